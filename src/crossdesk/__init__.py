"""crossdesk: answer every buyer on every channel in real time, and protect the margin."""

__version__ = "0.1.0"
