"""The GUI of Deep Learning Explorer (PySide6 + pyqtgraph). Calls nets/, never the reverse."""
APP_NAME = "Deep Learning Explorer"
ORG_NAME = "DeepLearningExplorer"
__version__ = "0.1.0"
