// LossCurve: an SVG picture of training loss per step and validation loss, written atomically.
package bptt.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A self-contained SVG line chart (no dependencies): x = step, y = loss in nats. */
public final class LossCurve {
    /** One measurement. */
    public record Point(long step, double loss) {}

    private static final int WIDTH = 800;
    private static final int HEIGHT = 480;
    private static final int LEFT = 72;
    private static final int RIGHT = 24;
    private static final int TOP = 44;
    private static final int BOTTOM = 56;
    /** Longer training curves are averaged into this many points. */
    static final int MAX_POINTS = 2000;
    private static final String TRAIN_COLOR = "#1f77b4";
    private static final String VAL_COLOR = "#d62728";

    private LossCurve() {}

    /** Writes the picture to {@code path} atomically; non-finite losses are left out. */
    public static void write(Path path, String title, List<Point> train, List<Point> validation) {
        byte[] svg = svg(title, train, validation).getBytes(StandardCharsets.UTF_8);
        try {
            AtomicFile.write(path, channel -> {
                ByteBuffer buffer = ByteBuffer.wrap(svg);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss curve " + path + ": " + e, e);
        }
    }

    /** The SVG document. */
    static String svg(String title, List<Point> train, List<Point> validation) {
        List<Point> t = downsample(finite(train));
        List<Point> v = finite(validation);
        List<Point> all = new ArrayList<>(t);
        all.addAll(v);
        double x0 = all.stream().mapToDouble(Point::step).min().orElse(0);
        double x1 = all.stream().mapToDouble(Point::step).max().orElse(1);
        double y0 = all.stream().mapToDouble(Point::loss).min().orElse(0);
        double y1 = all.stream().mapToDouble(Point::loss).max().orElse(1);
        if (x1 <= x0) {
            x1 = x0 + 1;
        }
        if (y1 <= y0) {
            y0 -= 0.5;
            y1 += 0.5;
        }
        double pad = (y1 - y0) * 0.05;
        y0 -= pad;
        y1 += pad;
        Scale sx = new Scale(x0, x1, LEFT, WIDTH - RIGHT);
        Scale sy = new Scale(y0, y1, HEIGHT - BOTTOM, TOP);

        StringBuilder s = new StringBuilder();
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
                .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
                .append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append("<text x=\"").append(WIDTH / 2).append("\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">")
                .append(escape(title)).append("</text>\n");
        axes(s, sx, sy);
        if (!t.isEmpty()) {
            s.append("<polyline class=\"train\" fill=\"none\" stroke=\"").append(TRAIN_COLOR)
                    .append("\" stroke-width=\"1.5\" points=\"").append(points(t, sx, sy)).append("\"/>\n");
        }
        if (!v.isEmpty()) {
            s.append("<polyline class=\"validation\" fill=\"none\" stroke=\"").append(VAL_COLOR)
                    .append("\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" points=\"").append(points(v, sx, sy)).append("\"/>\n");
            for (Point p : v) {
                s.append("<circle cx=\"").append(num(sx.map(p.step()))).append("\" cy=\"").append(num(sy.map(p.loss())))
                        .append("\" r=\"3\" fill=\"").append(VAL_COLOR).append("\"/>\n");
            }
        }
        if (all.isEmpty()) {
            s.append("<text x=\"").append(WIDTH / 2).append("\" y=\"").append(HEIGHT / 2)
                    .append("\" text-anchor=\"middle\" fill=\"gray\">no measurements yet</text>\n");
        }
        legend(s, !t.isEmpty(), !v.isEmpty());
        s.append("</svg>\n");
        return s.toString();
    }

    private static void axes(StringBuilder s, Scale sx, Scale sy) {
        int left = LEFT;
        int right = WIDTH - RIGHT;
        int top = TOP;
        int bottom = HEIGHT - BOTTOM;
        s.append("<g stroke=\"#ddd\" stroke-width=\"1\">\n");
        for (double x : ticks(sx.lo, sx.hi)) {
            s.append("<line x1=\"").append(num(sx.map(x))).append("\" y1=\"").append(top).append("\" x2=\"")
                    .append(num(sx.map(x))).append("\" y2=\"").append(bottom).append("\"/>\n");
        }
        for (double y : ticks(sy.lo, sy.hi)) {
            s.append("<line x1=\"").append(left).append("\" y1=\"").append(num(sy.map(y))).append("\" x2=\"")
                    .append(right).append("\" y2=\"").append(num(sy.map(y))).append("\"/>\n");
        }
        s.append("</g>\n");
        s.append("<g stroke=\"black\" stroke-width=\"1\">\n");
        s.append("<line x1=\"").append(left).append("\" y1=\"").append(bottom).append("\" x2=\"").append(right)
                .append("\" y2=\"").append(bottom).append("\"/>\n");
        s.append("<line x1=\"").append(left).append("\" y1=\"").append(top).append("\" x2=\"").append(left)
                .append("\" y2=\"").append(bottom).append("\"/>\n");
        s.append("</g>\n");
        List<Double> xt = ticks(sx.lo, sx.hi);
        int xDecimals = decimals(xt);
        for (double x : xt) {
            s.append("<line x1=\"").append(num(sx.map(x))).append("\" y1=\"").append(bottom).append("\" x2=\"")
                    .append(num(sx.map(x))).append("\" y2=\"").append(bottom + 5).append("\" stroke=\"black\"/>\n");
            s.append("<text x=\"").append(num(sx.map(x))).append("\" y=\"").append(bottom + 19)
                    .append("\" text-anchor=\"middle\">").append(label(x, xDecimals)).append("</text>\n");
        }
        List<Double> yt = ticks(sy.lo, sy.hi);
        int yDecimals = decimals(yt);
        for (double y : yt) {
            s.append("<line x1=\"").append(left - 5).append("\" y1=\"").append(num(sy.map(y))).append("\" x2=\"")
                    .append(left).append("\" y2=\"").append(num(sy.map(y))).append("\" stroke=\"black\"/>\n");
            s.append("<text x=\"").append(left - 8).append("\" y=\"").append(num(sy.map(y) + 4))
                    .append("\" text-anchor=\"end\">").append(label(y, yDecimals)).append("</text>\n");
        }
        s.append("<text x=\"").append((left + right) / 2).append("\" y=\"").append(HEIGHT - 14)
                .append("\" text-anchor=\"middle\">step</text>\n");
        s.append("<text x=\"18\" y=\"").append((top + bottom) / 2).append("\" text-anchor=\"middle\" transform=\"rotate(-90 18 ")
                .append((top + bottom) / 2).append(")\">loss (nats)</text>\n");
    }

    private static void legend(StringBuilder s, boolean train, boolean validation) {
        int x = WIDTH - RIGHT - 150;
        int y = TOP + 10;
        s.append("<g class=\"legend\">\n<rect x=\"").append(x).append("\" y=\"").append(y)
                .append("\" width=\"140\" height=\"46\" fill=\"white\" stroke=\"#999\"/>\n");
        entry(s, x + 10, y + 16, TRAIN_COLOR, "", "training loss" + (train ? "" : " (none)"));
        entry(s, x + 10, y + 34, VAL_COLOR, " stroke-dasharray=\"5,3\"", "validation loss" + (validation ? "" : " (none)"));
        s.append("</g>\n");
    }

    private static void entry(StringBuilder s, int x, int y, String color, String dash, String text) {
        s.append("<line x1=\"").append(x).append("\" y1=\"").append(y).append("\" x2=\"").append(x + 24).append("\" y2=\"")
                .append(y).append("\" stroke=\"").append(color).append("\" stroke-width=\"2\"").append(dash).append("/>\n");
        s.append("<text x=\"").append(x + 30).append("\" y=\"").append(y + 4).append("\">").append(text).append("</text>\n");
    }

    /** Maps data values linearly onto pixels. */
    private record Scale(double lo, double hi, double from, double to) {
        double map(double value) { return from + (value - lo) / (hi - lo) * (to - from); }
    }

    /** At most seven round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi]. */
    static List<Double> ticks(double lo, double hi) {
        double raw = (hi - lo) / 6;
        double power = Math.pow(10, Math.floor(Math.log10(raw)));
        double ratio = raw / power;
        double step = (ratio <= 1 ? 1 : ratio <= 2 ? 2 : ratio <= 5 ? 5 : 10) * power;
        List<Double> ticks = new ArrayList<>();
        for (long i = (long) Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++) {
            ticks.add(i * step);
        }
        return ticks;
    }

    private static int decimals(List<Double> ticks) {
        if (ticks.size() < 2) {
            return 2;
        }
        double step = ticks.get(1) - ticks.get(0);
        return Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
    }

    private static String label(double value, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static List<Point> finite(List<Point> points) {
        return points.stream().filter(p -> Double.isFinite(p.loss())).toList();
    }

    /** Averages consecutive runs of points so that at most {@link #MAX_POINTS} remain. */
    static List<Point> downsample(List<Point> points) {
        if (points.size() <= MAX_POINTS) {
            return points;
        }
        List<Point> out = new ArrayList<>(MAX_POINTS);
        for (int b = 0; b < MAX_POINTS; b++) {
            int from = (int) ((long) b * points.size() / MAX_POINTS);
            int to = (int) ((long) (b + 1) * points.size() / MAX_POINTS);
            double step = 0;
            double loss = 0;
            for (int i = from; i < to; i++) {
                step += points.get(i).step();
                loss += points.get(i).loss();
            }
            out.add(new Point(Math.round(step / (to - from)), loss / (to - from)));
        }
        return out;
    }

    private static String points(List<Point> points, Scale sx, Scale sy) {
        StringBuilder s = new StringBuilder();
        for (Point p : points) {
            s.append(s.length() == 0 ? "" : " ").append(num(sx.map(p.step()))).append(',').append(num(sy.map(p.loss())));
        }
        return s.toString();
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String escape(String text) {
        return text.replaceAll("[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F]", "")
                .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
