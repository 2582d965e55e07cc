// Progress: a live progress bar on a terminal, or a plain line per interval when output is a file or pipe.
package bptt.train;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.Locale;

/** Shows step, loss, tokens/s and ETA while training. */
public final class Progress implements AutoCloseable {
    private static final long PLAIN_INTERVAL_NANOS = 10_000_000_000L;

    private final PrintStream out;
    private final ProgressBar bar;
    private final int totalSteps;
    private final int startStep;
    private final int plainEvery;
    private final long started = System.nanoTime();
    private long lastPlain = started;

    public Progress(PrintStream out, int startStep, int totalSteps, boolean terminal) {
        this.out = out;
        this.totalSteps = totalSteps;
        this.startStep = startStep;
        this.plainEvery = Math.max(1, (totalSteps - startStep) / 20);
        this.bar = terminal && totalSteps > startStep ? new ProgressBarBuilder()
                .setTaskName("train")
                .setInitialMax(totalSteps)
                .startsFrom(startStep, java.time.Duration.ZERO)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
                .setUpdateIntervalMillis(250)
                .showSpeed()
                .setUnit(" steps", 1)
                .setConsumer(new ConsoleProgressBarConsumer(out, 110))
                .build() : null;
    }

    /** A loss in nats with four decimals, or four significant digits once it is huge (a diverging run). */
    public static String formatLoss(double loss) {
        return String.format(Locale.ROOT, Math.abs(loss) < 1e5 ? "%.4f" : "%.4g", loss);
    }

    /** True when stdout is an interactive terminal. */
    public static boolean isTerminal() { return System.console() != null; }

    public void update(int step, double loss, double tokensPerSecond) {
        String msg = String.format(Locale.ROOT, "loss %s  %.0f tok/s", formatLoss(loss), tokensPerSecond);
        if (bar != null) {
            bar.stepTo(step);
            bar.setExtraMessage(" " + msg);
            return;
        }
        long now = System.nanoTime();
        if (step % plainEvery == 0 || step == totalSteps || now - lastPlain > PLAIN_INTERVAL_NANOS) {
            lastPlain = now;
            double elapsed = (now - started) / 1e9;
            double eta = elapsed / Math.max(1, step - startStep) * (totalSteps - step);
            out.printf(Locale.ROOT, "step %d/%d  %s  elapsed %.1fs  ETA %.0fs%n", step, totalSteps, msg, elapsed, eta);
        }
    }

    /** A message on a line of its own: on a terminal the bar's line is cleared first, and the bar redraws below. */
    public void println(String line) {
        if (bar != null) {
            out.print("\r\033[2K");
        }
        out.println(line);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
