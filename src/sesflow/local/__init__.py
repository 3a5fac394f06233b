"""The local stack: real servers on loopback ports that stand in for AWS, so sesflow runs with no account.

Tests, `sesflow demo` and `sesflow local up` all start their servers from here.
"""
