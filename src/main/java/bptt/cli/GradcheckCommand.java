// GradcheckCommand: `bptt gradcheck` prints BPTT gradients vs finite differences, per parameter.
package bptt.cli;

import bptt.rnn.GradientCheck;
import bptt.rnn.RnnConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "gradcheck", mixinStandardHelpOptions = true,
        description = {"Checks every BPTT gradient against central finite differences in float64 on cpu-ref.",
                "Exit code 0 when every max relative error is below 1e-6, 1 otherwise."})
public final class GradcheckCommand implements Callable<Integer> {
    @Option(names = "--hidden", description = "Hidden size H (default ${DEFAULT-VALUE}).", defaultValue = "5")
    int hidden;
    @Option(names = "--layers", description = "Layers of the one-hot model (default ${DEFAULT-VALUE}).", defaultValue = "2")
    int layers;
    @Option(names = "--vocab", description = "Vocabulary size V (default ${DEFAULT-VALUE}).", defaultValue = "7")
    int vocab;
    @Option(names = "--batch", description = "Batch size B (default ${DEFAULT-VALUE}).", defaultValue = "3")
    int batch;
    @Option(names = "--seq-len", description = "Time steps T (default ${DEFAULT-VALUE}).", defaultValue = "6")
    int seqLen;
    @Option(names = "--seed", description = "Random seed (default ${DEFAULT-VALUE}).", defaultValue = "1")
    long seed;
    @Option(names = "--explain", description = "Also check the wrong orders a_prevᵀ·dpre and xᵀ·dpre and show them failing.")
    boolean explain;

    @Override
    public Integer call() {
        if (hidden <= 0 || vocab <= 0 || batch <= 0 || seqLen <= 0 || layers <= 0) {
            throw new UserError("--hidden, --vocab, --batch, --seq-len and --layers must be positive");
        }
        PrintStream out = System.out;
        boolean ok = true;
        RnnConfig tokens = RnnConfig.charModel(vocab, hidden, layers);
        ok &= table(out, "one-hot input (V=" + vocab + "), " + layers + " layer(s), B=" + batch + ", T=" + seqLen,
                new GradientCheck(tokens, batch, seqLen, seed).run(progress("one-hot model")));
        RnnConfig dense = new RnnConfig(hidden, false, hidden, 1, vocab);
        ok &= table(out, "dense input (D=" + hidden + "), 1 layer, B=" + batch + ", T=" + seqLen,
                new GradientCheck(dense, batch, seqLen, seed + 1).run(progress("dense model")));
        if (explain) {
            out.println();
            out.println("Waa is square (H×H), and with D = H so is Wax: shapes cannot tell the right order from its transpose.");
            List<GradientCheck.Row> rows = new GradientCheck(dense, batch, seqLen, seed + 1).explain();
            printRows(out, "right and wrong orders for layer 0 (a wrong order must FAIL)", rows);
            out.println("why: " + GradientCheck.whyRightOrder());
            for (GradientCheck.Row r : rows) {
                boolean wrongOrder = r.formula().contains("wrong");
                ok &= wrongOrder != r.passed();
            }
        }
        out.println(ok ? "gradcheck: all gradients match (max rel error < " + GradientCheck.TOLERANCE + ")"
                : "gradcheck: FAILED");
        return ok ? 0 : 1;
    }

    /**
     * Progress on stderr for checks that take a while: after 2 s, a line redrawn in place on a
     * terminal (every 0.5 s) or a plain line every 10 s otherwise.
     */
    private static GradientCheck.Listener progress(String what) {
        boolean terminal = System.console() != null;
        long started = System.nanoTime();
        long[] last = {started};
        return (done, total) -> {
            long now = System.nanoTime();
            boolean finished = done == total;
            if (now - started < 2_000_000_000L || !finished && now - last[0] < (terminal ? 500_000_000L : 10_000_000_000L)) {
                return;
            }
            last[0] = now;
            double seconds = (now - started) / 1e9;
            String line = String.format(java.util.Locale.ROOT, "gradcheck %s: %,d of %,d gradient values (%.0f%%), %.0f s,"
                    + " about %.0f s left", what, done, total, 100.0 * done / total, seconds, seconds / done * (total - done));
            System.err.print(terminal ? "\r" + line + (finished ? "\n" : "") : line + "\n");
            System.err.flush();
        };
    }

    private static boolean table(PrintStream out, String title, List<GradientCheck.Row> rows) {
        printRows(out, title, rows);
        return rows.stream().allMatch(GradientCheck.Row::passed);
    }

    private static void printRows(PrintStream out, String title, List<GradientCheck.Row> rows) {
        out.println();
        out.println(title);
        out.printf("  %-6s %-52s %-9s %-13s %s%n", "param", "gradient", "shape", "max rel err", "");
        for (GradientCheck.Row r : rows) {
            out.printf("  %-6s %-52s %-9s %-13.3e %s%n", r.name(), r.formula(), r.shape(), r.maxRelError(),
                    r.passed() ? "ok" : "FAIL");
        }
    }
}
