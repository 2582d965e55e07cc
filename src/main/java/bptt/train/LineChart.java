// LineChart: a self-contained SVG line chart (title, axes with round ticks, lines, dots, legend), written atomically.
package bptt.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The pictures bptt draws beside a checkpoint (the loss curve, a forecast against the truth):
 * 800×480 pixels, no dependencies. Non-finite values are left out; a line longer than
 * {@link #MAX_POINTS} is averaged down to that many points.
 */
public final class LineChart {
    /** One measurement. */
    public record Point(double x, double y) { }

    /**
     * One line: its CSS class and legend label, colour, whether it is dashed and has a dot at
     * every point, and its points.
     */
    public record Line(String cssClass, String label, String color, boolean dashed, boolean dots, List<Point> points) { }

    private static final int WIDTH = 800;
    private static final int HEIGHT = 480;
    private static final int LEFT = 72;
    private static final int RIGHT = 24;
    private static final int TOP = 44;
    private static final int BOTTOM = 56;
    private static final String DASH = " stroke-dasharray=\"5,3\"";
    /** Longer lines are averaged into this many points. */
    static final int MAX_POINTS = 2000;

    private LineChart() { }

    /** Writes the chart to {@code path} atomically; {@code what} names it in the error of a failed write. */
    public static void write(Path path, String what, String svg) {
        byte[] bytes = svg.getBytes(StandardCharsets.UTF_8);
        try {
            AtomicFile.write(path, channel -> {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the " + what + " " + path + ": " + e, e);
        }
    }

    /** The SVG document of the lines, with a legend entry per line ("(none)" after a line without points). */
    public static String svg(String title, String xLabel, String yLabel, List<Line> lines) {
        List<List<Point>> shown = new ArrayList<>();
        List<Point> all = new ArrayList<>();
        for (Line line : lines) {
            List<Point> points = downsample(finite(line.points()));
            shown.add(points);
            all.addAll(points);
        }
        double x0 = all.stream().mapToDouble(Point::x).min().orElse(0);
        double x1 = all.stream().mapToDouble(Point::x).max().orElse(1);
        double y0 = all.stream().mapToDouble(Point::y).min().orElse(0);
        double y1 = all.stream().mapToDouble(Point::y).max().orElse(1);
        if (x1 <= x0) {
            x1 = x0 + 1;
        }
        if (y1 <= y0) {
            y0 -= 0.5;
            y1 += 0.5;
        }
        double pad = (y1 - y0) * 0.05;
        Scale sx = new Scale(x0, x1, LEFT, WIDTH - RIGHT);
        Scale sy = new Scale(y0 - pad, y1 + pad, HEIGHT - BOTTOM, TOP);

        StringBuilder s = new StringBuilder();
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
                .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
                .append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append("<text x=\"").append(WIDTH / 2).append("\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">")
                .append(escape(title)).append("</text>\n");
        axes(s, sx, sy, xLabel, yLabel);
        for (int i = 0; i < lines.size(); i++) {
            Line line = lines.get(i);
            List<Point> points = shown.get(i);
            if (points.isEmpty()) {
                continue;
            }
            s.append("<polyline class=\"").append(line.cssClass()).append("\" fill=\"none\" stroke=\"").append(line.color())
                    .append("\" stroke-width=\"1.5\"").append(line.dashed() ? DASH : "").append(" points=\"")
                    .append(points(points, sx, sy)).append("\"/>\n");
            if (line.dots()) {
                for (Point p : points) {
                    s.append("<circle cx=\"").append(num(sx.map(p.x()))).append("\" cy=\"").append(num(sy.map(p.y())))
                            .append("\" r=\"3\" fill=\"").append(line.color()).append("\"/>\n");
                }
            }
        }
        if (all.isEmpty()) {
            s.append("<text x=\"").append(WIDTH / 2).append("\" y=\"").append(HEIGHT / 2)
                    .append("\" text-anchor=\"middle\" fill=\"gray\">no measurements yet</text>\n");
        }
        legend(s, lines, shown);
        s.append("</svg>\n");
        return s.toString();
    }

    private static void axes(StringBuilder s, Scale sx, Scale sy, String xLabel, String yLabel) {
        int left = LEFT;
        int right = WIDTH - RIGHT;
        int top = TOP;
        int bottom = HEIGHT - BOTTOM;
        List<Double> xt = ticks(sx.lo, sx.hi);
        List<Double> yt = ticks(sy.lo, sy.hi);
        s.append("<g stroke=\"#ddd\" stroke-width=\"1\">\n");
        for (double x : xt) {
            s.append("<line x1=\"").append(num(sx.map(x))).append("\" y1=\"").append(top).append("\" x2=\"")
                    .append(num(sx.map(x))).append("\" y2=\"").append(bottom).append("\"/>\n");
        }
        for (double y : yt) {
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
        int xDecimals = decimals(xt);
        for (double x : xt) {
            s.append("<line x1=\"").append(num(sx.map(x))).append("\" y1=\"").append(bottom).append("\" x2=\"")
                    .append(num(sx.map(x))).append("\" y2=\"").append(bottom + 5).append("\" stroke=\"black\"/>\n");
            s.append("<text x=\"").append(num(sx.map(x))).append("\" y=\"").append(bottom + 19)
                    .append("\" text-anchor=\"middle\">").append(label(x, xDecimals)).append("</text>\n");
        }
        int yDecimals = decimals(yt);
        for (double y : yt) {
            s.append("<line x1=\"").append(left - 5).append("\" y1=\"").append(num(sy.map(y))).append("\" x2=\"")
                    .append(left).append("\" y2=\"").append(num(sy.map(y))).append("\" stroke=\"black\"/>\n");
            s.append("<text x=\"").append(left - 8).append("\" y=\"").append(num(sy.map(y) + 4))
                    .append("\" text-anchor=\"end\">").append(label(y, yDecimals)).append("</text>\n");
        }
        s.append("<text x=\"").append((left + right) / 2).append("\" y=\"").append(HEIGHT - 14)
                .append("\" text-anchor=\"middle\">").append(escape(xLabel)).append("</text>\n");
        s.append("<text x=\"18\" y=\"").append((top + bottom) / 2).append("\" text-anchor=\"middle\" transform=\"rotate(-90 18 ")
                .append((top + bottom) / 2).append(")\">").append(escape(yLabel)).append("</text>\n");
    }

    private static void legend(StringBuilder s, List<Line> lines, List<List<Point>> shown) {
        int x = WIDTH - RIGHT - 150;
        int y = TOP + 10;
        s.append("<g class=\"legend\">\n<rect x=\"").append(x).append("\" y=\"").append(y)
                .append("\" width=\"140\" height=\"").append(10 + 18 * lines.size())
                .append("\" fill=\"white\" stroke=\"#999\"/>\n");
        for (int i = 0; i < lines.size(); i++) {
            Line line = lines.get(i);
            int ly = y + 16 + 18 * i;
            s.append("<line x1=\"").append(x + 10).append("\" y1=\"").append(ly).append("\" x2=\"").append(x + 34)
                    .append("\" y2=\"").append(ly).append("\" stroke=\"").append(line.color()).append("\" stroke-width=\"2\"")
                    .append(line.dashed() ? DASH : "").append("/>\n");
            s.append("<text x=\"").append(x + 40).append("\" y=\"").append(ly + 4).append("\">").append(escape(line.label()))
                    .append(shown.get(i).isEmpty() ? " (none)" : "").append("</text>\n");
        }
        s.append("</g>\n");
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
        return points.stream().filter(p -> Double.isFinite(p.x()) && Double.isFinite(p.y())).toList();
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
            double x = 0;
            double y = 0;
            for (int i = from; i < to; i++) {
                x += points.get(i).x();
                y += points.get(i).y();
            }
            out.add(new Point(x / (to - from), y / (to - from)));
        }
        return out;
    }

    private static String points(List<Point> points, Scale sx, Scale sy) {
        StringBuilder s = new StringBuilder();
        for (Point p : points) {
            s.append(s.length() == 0 ? "" : " ").append(num(sx.map(p.x()))).append(',').append(num(sy.map(p.y())));
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
