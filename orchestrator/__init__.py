"""orchestrator: run a Platform.sh/Upsun project on a plain Docker engine with its production topology."""

__version__ = "0.1.0"
