// ParameterLayout: where each named parameter lives in the single parameter slab.
package bptt.rnn;

import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Parameters (and, with the same layout, gradients and optimizer state) live in one (1, P)
 * slab; each named parameter is a contiguous (rows, cols) slice of it. Per layer l, with G the
 * cell's gate count ({@link Cell#gates}): Wax{l} = weight_ih (G·H, D_l), Waa{l} = weight_hh
 * (G·H, H), ba{l} = bias_ih (1, G·H) and, for LSTM and GRU, bh{l} = bias_hh (1, G·H) (the tanh
 * cell has the one bias ba); then Wya (V, H) and by (1, V).
 */
public final class ParameterLayout {
    /** One named parameter: its slice of the slab. */
    public record Entry(String name, long start, int rows, int cols) {
        public long size() { return (long) rows * cols; }

        public Tensor of(Tensor slab) { return slab.slice(start, rows, cols); }
    }

    private final RnnConfig config;
    private final List<Entry> entries;
    private final long total;

    public ParameterLayout(RnnConfig config) {
        long count = count(config);
        if (count > Integer.MAX_VALUE) {  // checked before the entries are built: --layers 2000000000 must not hang here
            throw new IllegalArgumentException("model has " + count + " parameters, more than one slab of 2^31 floats");
        }
        this.config = config;
        List<Entry> list = new ArrayList<>();
        long at = 0;
        int h = config.hidden();
        int gh = config.gateWidth();
        for (int l = 0; l < config.layers(); l++) {
            at = add(list, wax(l), at, gh, config.layerInput(l));
            at = add(list, waa(l), at, gh, h);
            at = add(list, ba(l), at, 1, gh);
            if (config.cell().twoBiases()) {
                at = add(list, bh(l), at, 1, gh);
            }
        }
        at = add(list, "Wya", at, config.outputSize(), h);
        at = add(list, "by", at, 1, config.outputSize());
        if (at != count) {
            throw new IllegalStateException("ParameterLayout.count says " + count + " but the entries hold " + at);
        }
        this.entries = Collections.unmodifiableList(list);
        this.total = at;
    }

    private static long add(List<Entry> list, String name, long at, int rows, int cols) {
        list.add(new Entry(name, at, rows, cols));
        return at + (long) rows * cols;
    }

    /**
     * The slab size {@link #total} of a layout of {@code config}, in closed form without building
     * it (saturating at Long.MAX_VALUE): what a memory estimate needs for any --layers.
     */
    public static long count(RnnConfig config) {
        long h = config.hidden();
        long gh = (long) config.cell().gates() * h;                   // G·H: < 2^34
        long biases = config.cell().twoBiases() ? 2 * gh : gh;
        long recurrent = add(mul(gh, h), biases);                      // Waa (G·H, H), ba (, bh)
        long first = add(mul(gh, config.inputSize()), recurrent);      // Wax0 (G·H, D)
        long upper = add(mul(gh, h), recurrent);                       // Wax{l>0} (G·H, H), Waa, biases
        long output = (long) config.outputSize() * h + config.outputSize();  // Wya (V, H), by (1, V)
        return add(add(first, output), mul(upper, config.layers() - 1L));
    }

    private static long mul(long a, long b) {
        return a == 0 || b == 0 ? 0 : Math.multiplyHigh(a, b) != 0 || a * b < 0 ? Long.MAX_VALUE : a * b;
    }

    private static long add(long a, long b) { return a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b; }

    public static String wax(int layer) { return "Wax" + layer; }

    public static String waa(int layer) { return "Waa" + layer; }

    public static String ba(int layer) { return "ba" + layer; }

    /** The recurrent-side bias bias_hh of LSTM and GRU layers. */
    public static String bh(int layer) { return "bh" + layer; }

    public RnnConfig config() { return config; }

    public List<Entry> entries() { return entries; }

    /** Total number of floats in the slab. */
    public long total() { return total; }

    public Entry entry(String name) {
        for (Entry e : entries) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        throw new IllegalArgumentException("no parameter named " + name);
    }
}
