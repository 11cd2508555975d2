"""Load tests: a scenario's city sent to the live HTTP API with Locust.

The scenario's span (a whole day for the baseline) is compressed into a
load test's wall-clock duration. Requests arrive as an open Poisson
process whose rate follows the scenario's order rate over the day, and
each is drawn from the same city, merchants, orders and drivers that a
simulation of the scenario generates from its seed::

    shape.py       CompressedDay: the rate at each wall second, the
                   simulated second it stands for, exact Poisson arrivals
    traffic.py     Traffic: the API mix of the city at a simulated second,
                   and the HTTP call of each kind
    schedule.py    Schedule: the open arrival model shared by a process's
                   users, and what each send recorded
    results.py     the run directory: results.json and samples.parquet
    settings.py    LoadSettings: a load run's knobs, checked
    locustfile.py  the Locust users and LoadTestShape (imports locust)
    runner.py      a headless run as a library (imports locust)

Importing locust monkey-patches the whole process with gevent, so only
``locustfile.py`` and ``runner.py`` import it, and nothing outside this
package imports either of them at module level.
"""
