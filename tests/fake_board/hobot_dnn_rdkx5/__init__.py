"""Fake ``hobot_dnn_rdkx5`` package (tests only): see ``pyeasy_dnn``."""
