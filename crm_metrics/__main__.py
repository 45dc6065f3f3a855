import sys

from crm_metrics.cli import main

sys.exit(main())
