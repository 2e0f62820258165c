"""XO objects: trimmed XAPI records, pure record -> object transforms, the ObjectStore.

- :class:`xo.objects.pool_records.PoolRecords` - one pool's records and derived objects
- :class:`xo.objects.store.ObjectStore` - every pool's objects, change feed, JSON helpers
- :func:`xo.objects.filter.compile_filter` - lodash ``_.matches`` / XO complex-matcher filters
"""
