// LossCurve: an SVG picture of training loss per step and validation loss, written atomically.
package bptt.train;

import java.nio.file.Path;
import java.util.List;

/** A {@link LineChart}: x = step, y = loss (nats, or the mean squared error of a regression model). */
public final class LossCurve {
    /** One measurement. */
    public record Point(long step, double loss) {}

    private static final String TRAIN_COLOR = "#1f77b4";
    private static final String VAL_COLOR = "#d62728";

    private LossCurve() {}

    /** Writes the picture of a cross-entropy loss (in nats) to {@code path} atomically; non-finite losses are left out. */
    public static void write(Path path, String title, List<Point> train, List<Point> validation) {
        write(path, title, "loss (nats)", train, validation);
    }

    /** The same with the y axis labelled {@code yLabel}, e.g. "mean squared error". */
    public static void write(Path path, String title, String yLabel, List<Point> train, List<Point> validation) {
        LineChart.write(path, "loss curve", svg(title, yLabel, train, validation));
    }

    /** The picture of {@code trainer}'s training losses, step by step, and its validation losses. */
    public static void write(Path path, String title, String yLabel, Trainer trainer) {
        write(path, title, yLabel, ofHistory(trainer.history()), ofHistory(trainer.validationHistory()));
    }

    private static List<Point> ofHistory(List<double[]> history) {
        return history.stream().map(h -> new Point((long) h[0], h[1])).toList();
    }

    /** The SVG document. */
    static String svg(String title, String yLabel, List<Point> train, List<Point> validation) {
        return LineChart.svg(title, "step", yLabel, List.of(
                new LineChart.Line("train", "training loss", TRAIN_COLOR, false, false, points(train)),
                new LineChart.Line("validation", "validation loss", VAL_COLOR, true, true, points(validation))));
    }

    private static List<LineChart.Point> points(List<Point> points) {
        return points.stream().map(p -> new LineChart.Point(p.step(), p.loss())).toList();
    }
}
