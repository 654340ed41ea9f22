"""``python -m restock.demo``: same as the ``restock-demo-data`` script."""

from restock.demo.cli import main

raise SystemExit(main())
