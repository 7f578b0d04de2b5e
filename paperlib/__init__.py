"""paperlib: reproduce machine-learning papers end to end, notebook first."""
__version__ = "0.1.0"
