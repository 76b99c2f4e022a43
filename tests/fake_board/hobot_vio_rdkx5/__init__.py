"""Fake ``hobot_vio_rdkx5`` (the RDK X5 camera API wheel ``hobot-vio-rdkx5``), for tests. NumPy only."""
__all__ = []
