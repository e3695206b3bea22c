"""The notifier: LISTEN, fan events out to endpoints, deliver with a retry queue per endpoint.

asyncio and psycopg 3 only; nothing here imports Django.
"""
