#!/usr/bin/python3
"""torch_step.py: one training step of a bptt model in PyTorch, for TorchAutogradTest.

Usage: PYTHONPATH=scripts torch_step.py PROBLEM.json CHECKPOINT.safetensors OUT.json
Reads the weights from the bptt checkpoint (PyTorch's state_dict names) into nn.RNN (tanh),
nn.LSTM or nn.GRU plus nn.Linear, in float64; reads the window (inputs, targets, h0, c0) from
PROBLEM.json; computes the mean cross-entropy over the targets that are not -1, its gradients by
autograd, and the weights after one step of torch.optim.SGD and of torch.optim.Adam from the
loaded weights. Writes {"loss", "grads": {name: [...]}, "dh0", "dc0", "sgd": {...}, "adam": {...}}.
Needs Debian's python3-torch; run with /usr/bin/python3.
"""
import json
import sys

import torch

from torch_check import read_safetensors   # scripts/ is on PYTHONPATH: the checkpoint reader the README names


def main():
    problem = json.load(open(sys.argv[1]))
    tensors, meta = read_safetensors(sys.argv[2])
    config = json.loads(meta["config"])
    model = config["model"]
    d, h, layers, v = config["input_size"], config["hidden_size"], config["num_layers"], config["output_size"]
    b, t = problem["batch"], problem["seq_len"]
    kinds = {"rnn_tanh": lambda: torch.nn.RNN(d, h, layers, nonlinearity="tanh"),
             "lstm": lambda: torch.nn.LSTM(d, h, layers), "gru": lambda: torch.nn.GRU(d, h, layers)}
    rnn = kinds[model]().double()
    decoder = torch.nn.Linear(h, v).double()

    def load():
        with torch.no_grad():
            for name, p in rnn.named_parameters():
                p.copy_(tensors["rnn." + name].double())
            for name, p in decoder.named_parameters():
                p.copy_(tensors["decoder." + name].double())

    if config["token_input"]:
        ids = torch.tensor(problem["inputs"], dtype=torch.long).view(t, b)
        x = torch.nn.functional.one_hot(ids, d).double()
    else:
        x = torch.tensor(problem["inputs"], dtype=torch.float64).view(t, b, d)
    targets = torch.tensor(problem["targets"], dtype=torch.long)
    h0 = torch.tensor(problem["h0"], dtype=torch.float64).view(layers, b, h).requires_grad_()
    c0 = torch.tensor(problem["c0"], dtype=torch.float64).view(layers, b, h).requires_grad_() if model == "lstm" else None

    def loss_of():
        out, _ = rnn(x, (h0, c0) if model == "lstm" else h0)
        logits = decoder(out).reshape(t * b, v)
        return torch.nn.functional.cross_entropy(logits, targets, ignore_index=-1, reduction="mean")

    def named():
        return [("rnn." + n, p) for n, p in rnn.named_parameters()] + \
               [("decoder." + n, p) for n, p in decoder.named_parameters()]

    load()
    loss = loss_of()
    loss.backward()
    result = {"loss": loss.item(), "torch": torch.__version__,
              "grads": {n: p.grad.flatten().tolist() for n, p in named()},
              "dh0": h0.grad.flatten().tolist()}
    if c0 is not None:
        result["dc0"] = c0.grad.flatten().tolist()
    lr = problem["lr"]
    for key, make in (("sgd", lambda ps: torch.optim.SGD(ps, lr=lr)),
                      ("adam", lambda ps: torch.optim.Adam(ps, lr=lr))):
        load()
        params = [p for _, p in named()]
        opt = make(params)
        opt.zero_grad()
        loss_of().backward()
        opt.step()
        result[key] = {n: p.detach().flatten().tolist() for n, p in named()}
    json.dump(result, open(sys.argv[3], "w"))


if __name__ == "__main__":
    main()
