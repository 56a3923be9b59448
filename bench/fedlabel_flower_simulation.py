"""FedLabel on Flower's simulation engine (Ray): the same client and strategy as `labelwise federate`, as apps.

    python bench/fedlabel_flower_simulation.py [--clients 3] [--rounds 2]

Digits over the clients (Dirichlet(1) skew, 30 % labelled), 300 held-out images; prints one line per round
(clients, failures, mask rate, local share, held-out accuracy) and the wall time, Ray's start included. A check that
the apps run on the engine (not part of `make test`: Ray and the actors took 208 s for 2 rounds on the busy 2-core machine this was written on).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    from flwr.simulation import run_simulation

    from labelwise.scale.federated_flower import client_app, make_strategy, read_shard, server_app
    from tests.scale.test_federated_flower import CLASSES, _write_shards

    start = time.perf_counter()
    classes = CLASSES.split(",")
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_shards(Path(folder), args.clients)
        shards = [read_shard(path, label="label", classes=classes) for path in paths]
        test = read_shard(Path(folder) / "test.csv", label="label", classes=classes)
    strategy = make_strategy(classes=classes, n_features=64, min_clients=args.clients, test=test)
    run_simulation(server_app=server_app(strategy, rounds=args.rounds),
                   client_app=client_app(shards, n_classes=len(classes)), num_supernodes=args.clients,
                   backend_config={"client_resources": {"num_cpus": 1}})
    for r in strategy.history:
        print(f"round {r.round}: {r.clients} clients, {r.failures} failed, mask rate {r.mask_rate:.3f}, "
              f"local share {r.local_share:.3f}, test accuracy {r.test_accuracy:.3f}")
    print(f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
