/* cells.cl.cu: the fused pointwise kernels of the recurrent cells (tanh backward, LSTM, GRU), one
 * per time step and direction, written once in the common subset of OpenCL C 1.2 and CUDA C++.
 * Compiled after bptt_kernels.cl.cu with the same prelude and the same ABI (kernels/README.md):
 * buffers as pointer + int offset, then ints, then floats; 1-D launch; every kernel checks its
 * bound; float32 only; no atomics.
 *
 * Gates are stacked per row in PyTorch's order: LSTM i, f, g, o and GRU r, z, n, each H wide, so
 * gate k of unit j of row r sits at r*G*H + k*H + j. One thread per (row, unit) handles all of
 * that unit's gates, so the in-place updates of gates never race. */

#define SIGMOIDF(x) (1.0f / (1.0f + EXPF(-(x))))

/* da (n) = (1 - a^2) * (da + dnext): the tanh cell's backward step (dL/da_t -> dL/dpre_t), with the
 * gradient from step t+1 folded in. 1 - a^2 is computed as (1 - a)(1 + a), as in tanh_backward. */
KERNEL void tanh_cell_backward(GLOBAL const float* RESTRICT a, int aOff, GLOBAL const float* RESTRICT dnext,
                               int dnextOff, GLOBAL float* RESTRICT da, int daOff, int n)
{
    const int i = GLOBAL_ID();
    if (i >= n) return;
    const float ai = a[aOff + i];
    da[daOff + i] = ((1.0f - ai) * (1.0f + ai)) * (da[daOff + i] + dnext[dnextOff + i]);
}

/* LSTM forward pointwise of one step, rows x hidden threads. gates (rows, 4*hidden): x.W_ih^T +
 * h.W_hh^T on entry, the activations i, f, g, o on return; biasIh, biasHh (1, 4*hidden);
 * cPrev (rows, hidden) read; c = f*cPrev + i*g and h = o*tanh(c) written. */
KERNEL void lstm_cell_forward(GLOBAL float* RESTRICT gates, int gatesOff, GLOBAL const float* RESTRICT biasIh,
                              int biasIhOff, GLOBAL const float* RESTRICT biasHh, int biasHhOff,
                              GLOBAL const float* RESTRICT cPrev, int cPrevOff, GLOBAL float* RESTRICT c, int cOff,
                              GLOBAL float* RESTRICT h, int hOff, int rows, int hidden)
{
    const int t = GLOBAL_ID();
    if (t >= rows * hidden) return;
    const int r = t / hidden;
    const int j = t - r * hidden;
    const int g = gatesOff + r * 4 * hidden + j;
    const float ig = SIGMOIDF(gates[g] + biasIh[biasIhOff + j] + biasHh[biasHhOff + j]);
    const float fg = SIGMOIDF(gates[g + hidden] + biasIh[biasIhOff + hidden + j] + biasHh[biasHhOff + hidden + j]);
    const float gg = TANHF(gates[g + 2 * hidden] + biasIh[biasIhOff + 2 * hidden + j]
                           + biasHh[biasHhOff + 2 * hidden + j]);
    const float og = SIGMOIDF(gates[g + 3 * hidden] + biasIh[biasIhOff + 3 * hidden + j]
                              + biasHh[biasHhOff + 3 * hidden + j]);
    const float ct = fg * cPrev[cPrevOff + t] + ig * gg;
    gates[g] = ig;
    gates[g + hidden] = fg;
    gates[g + 2 * hidden] = gg;
    gates[g + 3 * hidden] = og;
    c[cOff + t] = ct;
    h[hOff + t] = og * TANHF(ct);
}

/* LSTM backward pointwise of one step, rows x hidden threads. gates (rows, 4*hidden): i, f, g, o on
 * entry, dL/d(pre-activation) on return; cPrev, c (rows, hidden) read; dh (from above) and dnext
 * (through step t+1) read and summed; dc: dL/dc_t through step t+1 on entry, dL/dc_{t-1} on return. */
KERNEL void lstm_cell_backward(GLOBAL float* RESTRICT gates, int gatesOff, GLOBAL const float* RESTRICT cPrev,
                               int cPrevOff, GLOBAL const float* RESTRICT c, int cOff,
                               GLOBAL const float* RESTRICT dh, int dhOff, GLOBAL const float* RESTRICT dnext,
                               int dnextOff, GLOBAL float* RESTRICT dc, int dcOff, int rows, int hidden)
{
    const int t = GLOBAL_ID();
    if (t >= rows * hidden) return;
    const int r = t / hidden;
    const int j = t - r * hidden;
    const int g = gatesOff + r * 4 * hidden + j;
    const float ig = gates[g];
    const float fg = gates[g + hidden];
    const float gg = gates[g + 2 * hidden];
    const float og = gates[g + 3 * hidden];
    const float dht = dh[dhOff + t] + dnext[dnextOff + t];
    const float tc = TANHF(c[cOff + t]);
    const float dct = dc[dcOff + t] + dht * og * ((1.0f - tc) * (1.0f + tc));
    gates[g] = dct * gg * ig * (1.0f - ig);
    gates[g + hidden] = dct * cPrev[cPrevOff + t] * fg * (1.0f - fg);
    gates[g + 2 * hidden] = dct * ig * ((1.0f - gg) * (1.0f + gg));
    gates[g + 3 * hidden] = dht * tc * og * (1.0f - og);
    dc[dcOff + t] = dct * fg;
}

/* GRU forward pointwise of one step, rows x hidden threads. gates (rows, 3*hidden): x.W_ih^T on
 * entry, r, z, n on return; hh (rows, 3*hidden) = hPrev.W_hh^T read; biasIh, biasHh (1, 3*hidden);
 * hn = hh_n + b_hn and h = (1 - z)*n + z*hPrev written, where
 * r, z = sigmoid(gates + b_i + hh + b_h) and n = tanh(gates_n + b_in + r*hn). */
KERNEL void gru_cell_forward(GLOBAL float* RESTRICT gates, int gatesOff, GLOBAL const float* RESTRICT hh, int hhOff,
                             GLOBAL const float* RESTRICT biasIh, int biasIhOff, GLOBAL const float* RESTRICT biasHh,
                             int biasHhOff, GLOBAL const float* RESTRICT hPrev, int hPrevOff,
                             GLOBAL float* RESTRICT hn, int hnOff, GLOBAL float* RESTRICT h, int hOff,
                             int rows, int hidden)
{
    const int t = GLOBAL_ID();
    if (t >= rows * hidden) return;
    const int r = t / hidden;
    const int j = t - r * hidden;
    const int g = gatesOff + r * 3 * hidden + j;
    const int k = hhOff + r * 3 * hidden + j;
    const float rg = SIGMOIDF(gates[g] + biasIh[biasIhOff + j] + hh[k] + biasHh[biasHhOff + j]);
    const float zg = SIGMOIDF(gates[g + hidden] + biasIh[biasIhOff + hidden + j] + hh[k + hidden]
                              + biasHh[biasHhOff + hidden + j]);
    const float hnt = hh[k + 2 * hidden] + biasHh[biasHhOff + 2 * hidden + j];
    const float ng = TANHF(gates[g + 2 * hidden] + biasIh[biasIhOff + 2 * hidden + j] + rg * hnt);
    gates[g] = rg;
    gates[g + hidden] = zg;
    gates[g + 2 * hidden] = ng;
    hn[hnOff + t] = hnt;
    h[hOff + t] = (1.0f - zg) * ng + zg * hPrev[hPrevOff + t];
}

/* GRU backward pointwise of one step, rows x hidden threads. gates (rows, 3*hidden): r, z, n on
 * entry, the input side's dL/d(pre-activation) dr, dz, dn on return; dgatesHh (rows, 3*hidden)
 * gets the recurrent side's dr, dz, r*dn; hn, hPrev, dh read; dnext: dL/dh_t through step t+1 on
 * entry, the direct part z*(dh + dnext) of dL/dh_{t-1} on return. */
KERNEL void gru_cell_backward(GLOBAL float* RESTRICT gates, int gatesOff, GLOBAL const float* RESTRICT hn, int hnOff,
                              GLOBAL const float* RESTRICT hPrev, int hPrevOff, GLOBAL const float* RESTRICT dh,
                              int dhOff, GLOBAL float* RESTRICT dnext, int dnextOff,
                              GLOBAL float* RESTRICT dgatesHh, int dgatesHhOff, int rows, int hidden)
{
    const int t = GLOBAL_ID();
    if (t >= rows * hidden) return;
    const int r = t / hidden;
    const int j = t - r * hidden;
    const int g = gatesOff + r * 3 * hidden + j;
    const int k = dgatesHhOff + r * 3 * hidden + j;
    const float rg = gates[g];
    const float zg = gates[g + hidden];
    const float ng = gates[g + 2 * hidden];
    const float dht = dh[dhOff + t] + dnext[dnextOff + t];
    const float dn = dht * (1.0f - zg) * ((1.0f - ng) * (1.0f + ng));
    const float dr = dn * hn[hnOff + t] * rg * (1.0f - rg);
    const float dz = dht * (hPrev[hPrevOff + t] - ng) * zg * (1.0f - zg);
    gates[g] = dr;
    gates[g + hidden] = dz;
    gates[g + 2 * hidden] = dn;
    dgatesHh[k] = dr;
    dgatesHh[k + hidden] = dz;
    dgatesHh[k + 2 * hidden] = dn * rg;
    dnext[dnextOff + t] = dht * zg;
}
