"""Run under torchrun by tests/test_distributed.py: one rank's training, and what the test checks.

    torchrun --nproc-per-node 2 tests/distributed_job.py CORPUS OUT_DIR

Writes ``OUT_DIR/rank<r>.json`` (the vocabulary, the log, the tokens of the rank's share, a digest of the
weights, the seeds of the chunks it trained) and, on rank 0, ``OUT_DIR/model.w2v``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from w2v import Word2Vec
from w2v.corpus import Corpus
from w2v.distributed import Options
from w2v.engine import NumbaEngine

SEEDS: list[int] = []   # the random-stream seeds of the chunks this rank trained, in order


def recording(train):
    def wrapped(self, batch):
        SEEDS.extend(int(s) for s in batch.seeds)
        return train(self, batch)
    return wrapped


def main() -> None:
    corpus, out = sys.argv[1], sys.argv[2]
    rank = int(os.environ["RANK"])
    os.makedirs(out, exist_ok=True)
    NumbaEngine.train = recording(NumbaEngine.train)
    model = Word2Vec(dim=32, epochs=3, min_count=5, threads=1, seed=3)
    model.train(corpus, progress=False, distributed=Options(sync_words=20_000, timeout=60))
    index = model.vocab.index
    shares = [sum(1 for s in share for w in s if w in index) for share in Corpus(corpus).shares(2)]
    digest = hashlib.sha256(model.weights[0].tobytes() + model.weights[1].tobytes()).hexdigest()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"words": list(model.vocab.words), "counts": model.vocab.counts.tolist(),
                   "log": model.training_log, "shares": shares, "weights_digest": digest,
                   "seeds": SEEDS}, f)
    if rank == 0:
        model.save(os.path.join(out, "model.w2v"))


if __name__ == "__main__":
    main()
