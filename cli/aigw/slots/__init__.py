"""Key slots and their storage in OpenBao/Vault KV v2: where a slot's value and
bookkeeping live (`targets`), the KV adapter (`kv`), the journal, lock, audit trail
and status of each slot, and `put` (`aigw keys put/import/list/status`).

Rotation (aigw.rotation) sits on top of this package; nothing here imports it.
"""
