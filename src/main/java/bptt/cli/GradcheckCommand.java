// GradcheckCommand: `bptt gradcheck` prints BPTT gradients vs finite differences, per parameter and gate, for every cell.
package bptt.cli;

import bptt.rnn.Cell;
import bptt.rnn.GradientCheck;
import bptt.rnn.RnnConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "gradcheck", mixinStandardHelpOptions = true,
        description = {"Checks every BPTT gradient against central finite differences in float64 on cpu-ref,",
                "for every cell (tanh, LSTM, GRU) gate by gate.",
                "Exit code 0 when every max relative error is below 1e-6, 1 otherwise."})
public final class GradcheckCommand implements Callable<Integer> {
    @Option(names = "--cell", defaultValue = "all", description = "tanh, lstm, gru or all (default ${DEFAULT-VALUE}).")
    String cell;
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
    @Option(names = "--explain", description = "Also check the wrong orders h_prevᵀ·dpre and xᵀ·dpre (per gate) and show them failing.")
    boolean explain;

    @Override
    public Integer call() { return EngineErrors.call(this::check); }

    private Integer check() {
        if (hidden <= 0 || vocab <= 0 || batch <= 0 || seqLen <= 0 || layers <= 0) {
            throw new UserError("--hidden, --vocab, --batch, --seq-len and --layers must be positive");
        }
        List<Cell> cells = "all".equalsIgnoreCase(cell) ? List.of(Cell.values()) : List.of(Cell.parse(cell));
        PrintStream out = System.out;
        boolean ok = true;
        for (Cell c : cells) {
            ok &= check(out, c);
        }
        out.println(ok ? "gradcheck: all gradients match (max rel error < " + GradientCheck.TOLERANCE + ")"
                : "gradcheck: FAILED");
        return ok ? 0 : 1;
    }

    private boolean check(PrintStream out, Cell c) {
        out.println();
        out.println("== " + c.option() + " cell; gate gradients:");
        for (String line : GradientCheck.gateLegend(c)) {
            out.println("   " + line);
        }
        boolean ok = true;
        RnnConfig tokens = RnnConfig.charModel(c, vocab, hidden, layers);
        ok &= table(out, c.option() + ", one-hot input (V=" + vocab + "), " + layers + " layer(s), B=" + batch
                + ", T=" + seqLen, new GradientCheck(tokens, batch, seqLen, seed).run(progress(c.option() + " one-hot model")));
        RnnConfig dense = new RnnConfig(hidden, false, hidden, 1, vocab, c);
        ok &= table(out, c.option() + ", dense input (D=" + hidden + "), 1 layer, B=" + batch + ", T=" + seqLen,
                new GradientCheck(dense, batch, seqLen, seed + 1).run(progress(c.option() + " dense model")));
        if (explain) {
            out.println();
            out.println("Each gate's block of W_hh is square (H×H), and with D = H so is W_ih's: shapes cannot tell"
                    + " the right order from its transpose.");
            List<GradientCheck.Row> rows = new GradientCheck(dense, batch, seqLen, seed + 1).explain();
            printRows(out, c.option() + ": right and wrong orders for layer 0 (a wrong order must FAIL)", rows);
            out.println("why: " + GradientCheck.whyRightOrder());
            for (GradientCheck.Row r : rows) {
                boolean wrongOrder = r.formula().contains("wrong");
                ok &= wrongOrder != r.passed();
            }
        }
        return ok;
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
        out.printf("  %-9s %-50s %-9s %-13s %s%n", "param", "gradient", "shape", "max rel err", "");
        for (GradientCheck.Row r : rows) {
            out.printf("  %-9s %-50s %-9s %-13.3e %s%n", r.name(), r.formula(), r.shape(), r.maxRelError(),
                    r.passed() ? "ok" : "FAIL");
        }
    }
}
