"""Fake ``hobot_dnn`` package (tests only): see ``pyeasy_dnn``."""
