"""Open-loop load on the webhook: people start at a fixed rate (50…400 a second), no Telegram
limits; end-to-end p50/p99 from the webhook POST to the bot's first reply, and errors.

    python bench/webhook_load.py [--rates 50,100,200,300,400] [--seconds 5] [--replicas 1]

Goal: zero errors at any rate (overload only adds waiting in the inbox), p99 < 250 ms at 100/s.
"""

from __future__ import annotations

import argparse
import asyncio

from burst import burst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="50,100,200,300,400")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    for rate in (int(r) for r in args.rates.split(",")):
        people = int(rate * args.seconds)
        r = asyncio.run(burst(None, people, args.seconds, 0, args.replicas))
        errors = r["webhook_errors"] + (people - r["answered"])
        goal = errors == 0 and (rate != 100 or r["p99_s"] < 0.25)
        print(f"rate={rate}/s people={people} answered={r['answered']} errors={errors} "
              f"first-reply p50={r['p50_s'] * 1000:.0f} ms p99={r['p99_s'] * 1000:.0f} ms "
              f"last={r['last_answer_s']:.1f}s  -> {'goal met' if goal else 'GOAL MISSED'}",
              flush=True)


if __name__ == "__main__":
    main()
