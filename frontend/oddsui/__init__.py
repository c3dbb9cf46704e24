"""oddsui: the browser UI of the live sports-odds browser, running in Pyodide."""

__all__ = ["__version__"]
__version__ = "0.1.0"
