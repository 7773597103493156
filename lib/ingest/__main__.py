"""`python -m lib.ingest --help` is the manual."""

from lib.ingest.command import main

raise SystemExit(main())
