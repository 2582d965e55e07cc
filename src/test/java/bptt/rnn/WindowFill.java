// WindowFill: tests that build a window as float arrays (ids as exact floats) fill a workspace's Window with them.
package bptt.rnn;

/** The float-array form many tests generate: token ids or features, and targets, one value per row (D per row for features). */
public final class WindowFill {
    private WindowFill() { }

    /** Writes inputs (T·B ids as floats, or T·B·D features) and targets (T·B, −1 = none) into ws's window. */
    public static void fill(Workspace ws, float[] inputs, float[] targets) {
        Window w = ws.window();
        if (w.tokenInput()) {
            int[] ids = new int[inputs.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = exact(inputs[i]);
            }
            w.setTokens(ids);
        } else {
            w.setInputs(inputs);
        }
        int[] classes = new int[targets.length];
        for (int i = 0; i < classes.length; i++) {
            classes[i] = exact(targets[i]);
        }
        w.setTargets(classes);
    }

    /** Writes token ids only (sampling, advance). */
    public static void tokens(Workspace ws, float[] inputs) {
        for (int i = 0; i < inputs.length; i++) {
            ws.window().setToken(i, exact(inputs[i]));
        }
    }

    private static int exact(float v) {
        if (v != Math.rint(v)) {
            throw new IllegalArgumentException("an id must be an integer, got " + v);
        }
        return (int) v;
    }
}
