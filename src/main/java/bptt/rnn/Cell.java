// Cell: the recurrent cell of every layer (tanh, LSTM, GRU): its gate width, the state it carries, its per-step ops.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

import java.util.Locale;

/**
 * The seam between BPTT ({@link Workspace}, written once) and a cell. A cell has G gates of H
 * units each, stacked in PyTorch's order in {@code weight_ih} (G·H, D), {@code weight_hh}
 * (G·H, H) and the biases (G·H); it carries h, or h and c; and a time step is one recurrent
 * GEMM plus one fused pointwise kernel, forward and backward ({@link #forward}, {@link #backward}).
 *
 * <pre>
 * tanh  (nn.RNN):  a_t = tanh(x·W_ihᵀ + h·W_hhᵀ + b)                       one bias
 * LSTM  (nn.LSTM): i,f,g,o = σ,σ,tanh,σ(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)
 *                  c_t = f⊙c_{t-1} + i⊙g       h_t = o⊙tanh(c_t)
 * GRU   (nn.GRU):  r,z = σ(x·W_i{r,z}ᵀ + b_i{r,z} + h·W_h{r,z}ᵀ + b_h{r,z})
 *                  n = tanh(x·W_inᵀ + b_in + r⊙(h·W_hnᵀ + b_hn))   h_t = (1−z)⊙n + z⊙h_{t-1}
 * </pre>
 */
public enum Cell {
    TANH("tanh", "rnn_tanh", 1, "a"),
    LSTM("lstm", "lstm", 4, "i", "f", "g", "o"),
    GRU("gru", "gru", 3, "r", "z", "n");

    private final String option;
    private final String model;
    private final int gates;
    private final String[] gateNames;

    Cell(String option, String model, int gates, String... gateNames) {
        this.option = option;
        this.model = model;
        this.gates = gates;
        this.gateNames = gateNames;
    }

    /** The name on the command line: tanh, lstm, gru. */
    public String option() { return option; }

    /** The name in a checkpoint's config ("model"), PyTorch's mode names in lower case. */
    public String model() { return model; }

    /** G: gates per hidden unit (1, 4 or 3). */
    public int gates() { return gates; }

    /** The gates in PyTorch's stacking order. */
    public String gateName(int gate) { return gateNames[gate]; }

    /** True for LSTM: the cell state c is carried besides h. */
    public boolean hasCellState() { return this == LSTM; }

    /** LSTM and GRU keep bias_ih and bias_hh as two parameters (PyTorch's); tanh has one bias. */
    public boolean twoBiases() { return this != TANH; }

    /** GRU: the n gate's recurrent part hn = h·W_hnᵀ + b_hn is kept per step for the backward pass. */
    public boolean keepsRecurrentGate() { return this == GRU; }

    /** GRU: the recurrent side's gate gradients differ from the input side's (r⊙dn for n). */
    public boolean separateRecurrentGradient() { return this == GRU; }

    /** Parses tanh | lstm | gru. */
    public static Cell parse(String name) {
        for (Cell c : values()) {
            if (c.option.equalsIgnoreCase(name.trim())) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown cell '" + name + "'; choose tanh, lstm or gru");
    }

    /** The cell whose checkpoint config says {@code model}, or null. */
    public static Cell ofModel(String model) {
        for (Cell c : values()) {
            if (c.model.equals(model.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        return null;
    }

    /** One layer's parameters, (G·H, D), (G·H, H), (1, G·H) and, with two biases, (1, G·H). */
    public record Weights(Tensor wih, Tensor whh, Tensor biasIh, Tensor biasHh) { }

    /**
     * One time step of one layer. Forward: {@code gates} holds x_t·W_ihᵀ (no bias) on entry;
     * hPrev (and cPrev) are the entering state; h (and c, hn) are written. Backward: dh holds
     * dL/dh_t from above, dnext the gradient flowing in from step t+1 (dc likewise for LSTM);
     * dgates receives dL/d(pre-activations) of the input side, dgatesHh of the recurrent side
     * (the same tensor except for GRU), and dnext leaves as dL/dh_{t-1}, dc as dL/dc_{t-1}.
     * For tanh, gates and h are one view (pre-activation in, a_t out) and dgates is dh (da in,
     * dpre out); for LSTM and GRU dgates is gates (activations in, gradients out), in place.
     */
    public record Step(Tensor hPrev, Tensor h, Tensor cPrev, Tensor c, Tensor gates, Tensor hn, Tensor hh,
                       Tensor dh, Tensor dgatesHh, Tensor dnext, Tensor dc) { }

    /** The forward of one step: one recurrent GEMM and one fused pointwise kernel (the backend's step op). */
    public void forward(Backend be, Weights w, Step s) {
        switch (this) {
            case TANH -> be.tanhStepForward(s.hPrev, w.whh, w.biasIh, s.gates);
            case LSTM -> be.lstmStepForward(s.hPrev, s.cPrev, w.whh, w.biasIh, w.biasHh, s.gates, s.c, s.h);
            case GRU -> be.gruStepForward(s.hPrev, w.whh, w.biasIh, w.biasHh, s.gates, s.hh, s.hn, s.h);
        }
    }

    /** The backward of one step: one fused pointwise kernel and one recurrent GEMM. */
    public void backward(Backend be, Weights w, Step s) {
        switch (this) {
            case TANH -> be.tanhStepBackward(s.h, w.whh, s.dh, s.dnext);
            case LSTM -> be.lstmStepBackward(s.gates, s.cPrev, s.c, w.whh, s.dh, s.dc, s.dnext);
            case GRU -> be.gruStepBackward(s.gates, s.hn, s.hPrev, w.whh, s.dh, s.dgatesHh, s.dnext);
        }
    }
}
