"""Recurrent层 RNN/LSTM: nn.RNN and nn.LSTM shapes, one step of each by hand, and a tiny LSTM learning a sine wave.

Note 001 【搭建模型】2.5 Recurrent层：RNN算子, note 003 §7.2 RNN/LSTM; course P21 神经网络-线性层及
其他层介绍 (the "other layers" it points to in the docs).

An RNN reads a sequence one step at a time (words, sound frames, daily prices) and carries a
hidden state h from each step to the next: the same small network, applied again and again.
An LSTM adds a second state c (the "cell") and gates that decide what to keep, forget and output.

Run:   python 04_nn_layers/nn_rnn.py
Look:  the printed shapes and numbers (no TensorBoard in this lesson).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: `import common` from any folder

from common import _, cli, errors

import torch
from torch import nn


def shape(t):
    return tuple(t.shape)


def main():
    p = cli.parser(__doc__, data=None, device=False, logdir=False, seed=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)

    # ---- 2.5 Recurrent层：RNN算子: the shapes of nn.RNN --------------------------------------------
    # By default the sequence comes first: input (seq_len, batch, input_size)
    rnn = nn.RNN(input_size=3, hidden_size=4)
    x = torch.randn(5, 2, 3)  # 5 steps, a batch of 2 sequences, 3 numbers per step
    output, h_n = rnn(x)
    print(
        _("nn.RNN(3, 4): x {x} -> output {output} (h of every step), h_n {h_n} (the last h)").format(
            x=shape(x), output=shape(output), h_n=shape(h_n)
        )
    )
    print(_("  output[-1] equals h_n[0]: {same}").format(same=torch.equal(output[-1], h_n[0])))
    # batch_first=True: input and output are (batch, seq_len, features), as DataLoader batches are;
    # h_n stays (num_layers, batch, hidden)
    rnn_bf = nn.RNN(input_size=3, hidden_size=4, batch_first=True)
    output_bf, h_n_bf = rnn_bf(x.transpose(0, 1))
    print(
        _("nn.RNN(3, 4, batch_first=True): x {x} -> output {output}, h_n {h_n} (not batch first!)").format(
            x=shape(x.transpose(0, 1)), output=shape(output_bf), h_n=shape(h_n_bf)
        )
    )

    # ---- one RNN step by hand: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh) ----------------
    h = torch.zeros(2, 4)  # h_0: zeros unless you pass one
    with torch.no_grad():
        for t in range(5):
            h = torch.tanh(x[t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
            if t == 0:
                print(_("step 1 by hand, sequence 0: {h}").format(h=[round(v, 4) for v in h[0].tolist()]))
                print(_("nn.RNN's output[0][0]:      {h}").format(h=[round(v, 4) for v in output[0, 0].tolist()]))
    print(_("all 5 steps by hand vs h_n: max difference {diff:.2g}").format(diff=(h - h_n[0]).abs().max().item()))

    # ---- 7.2 RNN/LSTM: nn.LSTM, a second state c ----------------------------------------------------
    lstm = nn.LSTM(input_size=3, hidden_size=4)
    output, (h_n, c_n) = lstm(x)  # the states come as a pair (h_n, c_n)
    print(f"nn.LSTM(3, 4): output {shape(output)}, h_n {shape(h_n)}, c_n {shape(c_n)}")
    deep = nn.LSTM(input_size=3, hidden_size=4, num_layers=2)  # layer 2 reads layer 1's h
    output2, (h_n2, c_n2) = deep(x)
    print(
        _(
            "nn.LSTM(3, 4, num_layers=2): output {output} (the top layer's h), h_n {h_n}, c_n {c_n} (one per layer); "
            "output[-1] equals h_n[-1]: {same}"
        ).format(output=shape(output2), h_n=shape(h_n2), c_n=shape(c_n2), same=torch.equal(output2[-1], h_n2[-1]))
    )
    # One LSTM step by hand: the 4 gates are stacked in one weight matrix (input, forget, cell, output)
    h_0 = c_0 = torch.zeros(2, 4)
    with torch.no_grad():
        gates = x[0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h_0 @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c_0 + torch.sigmoid(i) * torch.tanh(g)  # forget part of c, add a new part
        h = torch.sigmoid(o) * torch.tanh(c)  # h shows part of c
        _out, (h_1, c_1) = lstm(x[:1])  # nn.LSTM on the first step only
    print(
        _("one LSTM step by hand vs nn.LSTM: h max difference {h:.2g}, c max difference {c:.2g}").format(
            h=(h - h_1[0]).abs().max().item(), c=(c - c_1[0]).abs().max().item()
        )
    )

    # ---- 时间序列问题 (note 003 §7.2): a tiny LSTM learns to continue a sine wave ------------------
    # 64 windows of 10 points of sin(0.2 k); the target is the point right after each window
    window, n = 10, 64
    wave = torch.sin(torch.arange(n + window) * 0.2)
    inputs = torch.stack([wave[k : k + window] for k in range(n)]).unsqueeze(-1)  # (64, 10, 1)
    targets = wave[window : window + n].unsqueeze(-1)  # (64, 1)
    model_lstm = nn.LSTM(input_size=1, hidden_size=16, batch_first=True)
    head = nn.Linear(16, 1)  # the last step's h -> the next value

    def predict(seqs):
        out, _state = model_lstm(seqs)
        return head(out[:, -1])

    loss_fn = nn.MSELoss()
    params = [*model_lstm.parameters(), *head.parameters()]
    losses = []
    for _step in range(200):  # all 64 windows at once, 200 steps: well under a second on a CPU
        loss = loss_fn(predict(inputs), targets)
        loss.backward()  # every parameter's .grad: which way is uphill for the loss
        with torch.no_grad():
            for p in params:  # one step downhill, by hand: what torch.optim.SGD does (05_loss_optim/nn_optim.py)
                p -= 0.4 * p.grad
                p.grad = None  # backward adds to .grad, so clear it (optimizer.zero_grad())
        losses.append(loss.item())
    print(
        _(
            "LSTM on the sine wave {shape}: loss {first:.4f} -> {last:.6f} after {steps} steps, {ratio:.0f}x lower"
        ).format(shape=shape(inputs), first=losses[0], last=losses[-1], steps=len(losses), ratio=losses[0] / losses[-1])
    )
    # A window it never saw: the same wave shifted by 0.1
    with torch.no_grad():
        unseen = torch.sin(torch.arange(window + 1) * 0.2 + 0.1)
        guess = predict(unseen[:window].reshape(1, window, 1)).item()
    print(
        _("next value of an unseen window: predicted {guess:.4f}, true {true:.4f}").format(
            guess=guess, true=unseen[-1].item()
        )
    )


if __name__ == "__main__":
    errors.run(main)
