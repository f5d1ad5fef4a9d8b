"""oemhost: white-label shared hosting run as code.

The core package: inventory store, lab, jobs, monitor, usage and the CLI. The Flask UI
(``webui``) is a thin layer over it.
"""

__version__ = "0.1.0"
