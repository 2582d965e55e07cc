#!/usr/bin/python3
"""torch_check.py: reads a bptt checkpoint with PyTorch and scores a text file with it.

Usage: scripts/torch_check.py CHECKPOINT TEXT [BATCH] [SEQ_LEN]
Loads the safetensors file with a minimal reader (no safetensors package needed) into
torch.nn.RNN(tanh), torch.nn.LSTM or torch.nn.GRU (the config's "model") + torch.nn.Linear
exactly as PyTorch's word_language_model example lays them out, scores every character of TEXT
after the first (split into BATCH streams as bptt eval splits it, hidden state carried along each
stream), and prints the mean cross-entropy in nats. `bptt eval --checkpoint C --data TEXT
--batch B --seq-len T` must print the same number. Needs Debian's python3-torch; run with /usr/bin/python3.
"""
import json
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{name}: {info['dtype']}"
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + begin:base + end]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def main():
    ckpt, text_path = sys.argv[1], sys.argv[2]
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    seq_len = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    tensors, meta = read_safetensors(ckpt)
    config = json.loads(meta["config"])
    vocab = json.loads(meta["vocab"])
    V, H, L = config["output_size"], config["hidden_size"], config["num_layers"]
    model = config.get("model", "rnn_tanh")
    if model == "lstm":
        rnn = torch.nn.LSTM(V, H, num_layers=L)
    elif model == "gru":
        rnn = torch.nn.GRU(V, H, num_layers=L)
    else:
        rnn = torch.nn.RNN(V, H, num_layers=L, nonlinearity="tanh")
    decoder = torch.nn.Linear(H, V)
    rnn.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("rnn.")})
    decoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("decoder.")})
    index = {c: i for i, c in enumerate(vocab)}
    with open(text_path, encoding="utf-8", newline="") as f:   # keep \r: it is a character of the vocabulary
        ids = torch.tensor([index[c] for c in f.read()], dtype=torch.long)
    # Every character after the first is a target: N - 1 targets in min(B, N - 1) contiguous
    # streams of nearly equal length that share their boundary character (stream s predicts
    # positions start[s]+1 .. start[s+1], start[s] = s*(N-1)//B), each from a zero state
    # ((h, c) for LSTM).
    scored = ids.size(0) - 1
    batch = min(batch, scored)
    start = [s * scored // batch for s in range(batch + 1)]
    total, count = 0.0, 0
    with torch.no_grad():
        for s in range(batch):
            hidden = torch.zeros(L, 1, H)
            if model == "lstm":
                hidden = (hidden, torch.zeros(L, 1, H))
            for i in range(start[s], start[s + 1], seq_len):
                n = min(seq_len, start[s + 1] - i)
                x = torch.nn.functional.one_hot(ids[i:i + n], V).float().unsqueeze(1)   # (n, 1, V)
                y = ids[i + 1:i + 1 + n]
                out, hidden = rnn(x, hidden)
                logits = decoder(out.squeeze(1))
                total += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
                count += y.numel()
    print(json.dumps({"loss": total / count, "tokens": count, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
