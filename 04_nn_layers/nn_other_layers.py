"""其他层: nn.Embedding, nn.TransformerEncoderLayer, distances, nn.Softmax and an MLP, each checked by hand.

Note 001 【搭建模型】2.6 Transformer层, 2.9 Embedding层, 2.10 距离函数; note 003 §4.6.3 nn.Softmax,
§6.2.6 softmax层, §7.4 MLP/ANN; course P21 神经网络-线性层及其他层介绍 (the layers it points to in the
docs without coding them). Recurrent layers (2.5) have their own lesson: nn_rnn.py.

Run:   python 04_nn_layers/nn_other_layers.py
Look:  the printed numbers (no TensorBoard in this lesson).
"""

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import torch
from torch import nn


def rounded(t):
    return [round(v, 4) for v in t.flatten().tolist()]


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_grad_enabled(False)  # nothing is trained here

    # ---- 2.9 Embedding层：NLP算子 ------------------------------------------------------------------
    # Words become numbers first (their index in a vocabulary of 10 words); nn.Embedding turns each
    # index into a learnable vector of 4 numbers: simply row <index> of its weight (10, 4)
    embedding = nn.Embedding(num_embeddings=10, embedding_dim=4)
    tokens = torch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])  # 2 sentences of 4 words
    vectors = embedding(tokens)
    print(f"nn.Embedding(10, 4): tokens {tuple(tokens.shape)} -> {tuple(vectors.shape)}")
    print(_("  embedding(tokens)[0, 2] (word 4): {v}").format(v=rounded(vectors[0, 2])))
    print(_("  embedding.weight[4]:              {v}").format(v=rounded(embedding.weight[4])))
    # the same as a one-hot vector times the weight, i.e. a Linear layer without bias, minus the work
    one_hot = nn.functional.one_hot(tokens, num_classes=10).float()
    print(_("  equals one_hot(tokens) @ weight: {same}").format(same=torch.equal(one_hot @ embedding.weight, vectors)))
    try:
        embedding(torch.tensor([10]))  # only words 0..9 exist
    except IndexError as exc:
        print(f"  embedding(tensor([10])): IndexError: {exc}")

    # ---- 2.6 Transformer层：Transformer算子 --------------------------------------------------------
    # Self-attention: every word looks at every word of its own sentence. batch_first=True takes
    # (batch, seq, d_model); the default (seq, batch, d_model) takes the same shape without complaint,
    # so with batch-first data it would let sentences attend to each other.
    encoder = nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, batch_first=True).eval()
    out = encoder(vectors)
    print(
        f"nn.TransformerEncoderLayer(d_model=4, nhead=2, batch_first=True): {tuple(vectors.shape)} -> "
        f"{tuple(out.shape)}"
    )
    changed = vectors.clone()
    changed[0, 0] += 1.0  # change the first word of sentence 0
    moved = (encoder(changed) - out).abs().amax(dim=2)  # (2, 4): how much each word's output moved
    print(
        _("  change word 0 of sentence 0: every word of sentence 0 moves: {moves}, sentence 1 stays: {stays}").format(
            moves=bool((moved[0] > 1e-4).all()), stays=bool((moved[1] < 1e-6).all())
        )
    )
    seq_first = nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8).eval()  # batch_first=False
    seq_first.load_state_dict(encoder.state_dict())  # the same weights
    leaked = (seq_first(changed) - seq_first(vectors))[1].abs().max().item()
    print(
        _("  the same layer without batch_first, same input: no error, but sentence 1 moves by {moved:.4f}").format(
            moved=leaked
        )
    )

    # ---- 2.10 距离函数：计算两个值之间的误差 -------------------------------------------------------
    a = torch.tensor([[1.0, 2.0, 3.0]])
    b = torch.tensor([[4.0, 5.0, 6.0]])
    cos = nn.CosineSimilarity(dim=1)(a, b).item()
    by_hand = (1 * 4 + 2 * 5 + 3 * 6) / (math.sqrt(1 + 4 + 9) * math.sqrt(16 + 25 + 36))
    print(
        _("nn.CosineSimilarity: {cos:.4f}  (by hand: 32 / (sqrt(14) * sqrt(77)) = {by_hand:.4f})").format(
            cos=cos, by_hand=by_hand
        )
    )
    dist = nn.PairwiseDistance(p=2)(a, b).item()  # adds eps=1e-6 to a - b: no effect you can see here
    print(
        _("nn.PairwiseDistance: {dist:.4f}  (by hand: sqrt(3^2 + 3^2 + 3^2) = {by_hand:.4f})").format(
            dist=dist, by_hand=math.sqrt(27)
        )
    )
    # cosine compares directions only: 2a points the same way as a, yet lies |a| away
    print(
        _("  a vs 2a: cosine {cos:.4f}, distance {dist:.4f} (|a| = sqrt(14) = {norm:.4f})").format(
            cos=nn.CosineSimilarity(dim=1)(a, 2 * a).item(),
            dist=nn.PairwiseDistance()(a, 2 * a).item(),
            norm=math.sqrt(14),
        )
    )

    # ---- nn.Softmax: scores -> probabilities (note 003 §6.2.6 softmax层) ---------------------------
    logits = torch.tensor([3.0, 1.0, -3.0])  # the note's example scores
    probs = nn.Softmax(dim=0)(logits)
    total = math.exp(3) + math.exp(1) + math.exp(-3)
    print(
        _(
            "nn.Softmax on [3, 1, -3]: {probs}  (by hand: e^3 / (e^3 + e^1 + e^-3) = {by_hand:.4f}), sum {total:.4f}"
        ).format(probs=rounded(probs), by_hand=math.exp(3) / total, total=probs.sum().item())
    )
    # A batch: (2 samples, 3 classes). dim is the dimension that must add up to 1: the classes, dim=1
    batch = torch.tensor([[3.0, 1.0, -3.0], [1.0, 2.0, 3.0]])
    right, wrong = nn.Softmax(dim=1)(batch), nn.Softmax(dim=0)(batch)
    print(_("  dim=1: each sample's probabilities sum to {sums}").format(sums=rounded(right.sum(dim=1))))
    print(
        _(
            "  dim=0: each sample's 'probabilities' sum to {sums} (the classes do not add up to 1; instead the 2 "
            "samples compete for each class)"
        ).format(sums=rounded(wrong.sum(dim=1)))
    )
    other = batch.clone()
    other[1] = torch.tensor([0.0, 0.0, 9.0])  # change only sample 1
    print(
        _("  dim=0: changing sample 1 changes sample 0's answer: {changes}").format(
            changes=not torch.equal(nn.Softmax(dim=0)(other)[0], wrong[0])
        )
    )
    # softmax keeps the order, so argmax(logits) already gives the class (09_inference/predict.py);
    # CrossEntropyLoss wants the logits, it does the softmax itself (05_loss_optim/nn_loss.py)
    print(
        _("  argmax of logits {logits} = argmax of probabilities {probs}").format(
            logits=batch.argmax(dim=1).tolist(), probs=right.argmax(dim=1).tolist()
        )
    )

    # ---- 7.4 MLP/ANN: input layer, one hidden layer, output layer -----------------------------------
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = torch.randn(5, 4)  # 5 samples, 4 features each
    n = sum(p.numel() for p in mlp.parameters())
    print(
        _("MLP 4 -> 8 -> 3: {shape} -> {result}, {n} parameters (by hand: 4*8 + 8 + 8*3 + 3 = {by_hand})").format(
            shape=tuple(x.shape), result=tuple(mlp(x).shape), n=n, by_hand=4 * 8 + 8 + 8 * 3 + 3
        )
    )
    first, last = mlp[0], mlp[2]
    by_hand = torch.relu(x @ first.weight.T + first.bias) @ last.weight.T + last.bias
    print(
        _("  relu(x W1^T + b1) W2^T + b2 vs mlp(x): max difference {diff:.2g}").format(
            diff=(by_hand - mlp(x)).abs().max().item()
        )
    )


if __name__ == "__main__":
    errors.run(main)
