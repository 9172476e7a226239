"""What every process shares to be run and watched: JSON logs without personal data
(``ops.logs``), Prometheus metrics (``ops.metrics``) and a stop that hands work back in time
(``ops.shutdown``). Nothing here knows the bot's handlers or the API's domains."""
