"""The relay stack's parts: key, buckets, queue, topics, table, function, receipt rule, alarms, permissions.

Each part builds its resources as direct children of the stack, so logical IDs (and the deployed resources
behind them) stay what they are however the code is divided.
"""
