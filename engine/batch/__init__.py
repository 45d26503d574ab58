"""`llmhw batch`: one consultation per input row, in worker processes, written in input order.

- ``read``: the input formats (JSON Lines, CSV, YAML) and the rows that cannot be read;
- ``run``: the workers, the order of the records, the progress bar and the summary;
- ``output``: the records as JSON Lines or CSV.

``row`` counts profiles from 1; ``line`` is where the row starts in the input file.
"""

from __future__ import annotations

from .output import CSV_COLUMNS as CSV_COLUMNS
from .output import open_output as open_output
from .output import output_format as output_format
from .read import Row as Row
from .read import check_input as check_input
from .read import read_rows as read_rows
from .run import Summary as Summary
from .run import run_batch as run_batch
