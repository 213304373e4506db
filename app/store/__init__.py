"""Shared state for all workers and hosts: sessions, refresh locks, refresh results."""

from .base import LockHandle, LockTimeout, Store, StoreUnavailable, open_store
from .files import FileStore
from .redis import RedisStore

__all__ = ["Store", "LockHandle", "LockTimeout", "StoreUnavailable", "open_store", "FileStore", "RedisStore"]
