// PlanReport: `--plan` of train and bench: the memory a run will allocate, tensor by tensor, and the largest T within `--memory`.
package bptt.cli;

import bptt.api.MemoryPlan;
import com.google.gson.Gson;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Prints a {@link MemoryPlan} as a table (or one JSON object) without allocating anything. */
final class PlanReport {
    private PlanReport() { }

    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(b|k|kib|kb|m|mib|mb|g|gib|gb|t|tib|tb)?\\s*");

    /**
     * Parses a --memory value: a number and a unit; KiB, MiB, GiB, TiB and k, m, g, t (as in
     * -Xmx) are powers of 1024, KB, MB, GB, TB powers of 1000, no unit or B bytes.
     */
    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new UserError("--memory '" + text + "' is not a size; write e.g. 1GiB, 800MiB or 2g");
        }
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        double scale = switch (unit) {
            case "b" -> 1;
            case "k", "kib" -> 1L << 10;
            case "m", "mib" -> 1L << 20;
            case "g", "gib" -> 1L << 30;
            case "t", "tib" -> 1L << 40;
            case "kb" -> 1e3;
            case "mb" -> 1e6;
            case "gb" -> 1e9;
            default -> 1e12;
        };
        double bytes = Double.parseDouble(m.group(1)) * scale;
        if (!(bytes >= 1) || bytes >= Long.MAX_VALUE) {
            throw new UserError("--memory '" + text + "' must be at least one byte and below 8 EiB");
        }
        return (long) bytes;
    }

    /**
     * Prints the plan of {@code what} on {@code backend}; with a budget, whether it fits and the
     * largest T that does ({@code largest}, 0 when none), whose plan is {@code atLargest}.
     */
    static void print(PrintStream out, boolean json, String backend, String what, MemoryPlan e, Long budget,
                      int largest, MemoryPlan atLargest) {
        if (json) {
            out.println(json(backend, what, e, budget, largest));
            return;
        }
        out.printf(Locale.ROOT, "memory plan on %s: %s, %s%n", backend, what, schedule(e));
        out.printf(Locale.ROOT, "  %-15s %-46s %12s %24s %12s%n", "where", "what", "count", "shape", "bytes");
        for (MemoryPlan.Item i : e.items()) {
            String where = switch (i.place()) {
                case DEVICE -> "backend tensor";
                case HOST -> "host";
                case HEAP -> "Java heap";
            };
            String name = i.name() + (i.note().isEmpty() ? "" : " (" + i.note() + ")");
            String shape = i.place() == MemoryPlan.Place.DEVICE || i.group().equals("window") ? i.shape()
                    : i.cols() > 1 && i.rows() == 1 ? "-" : String.format(Locale.ROOT, "%,d bytes each", i.elementBytes());
            out.printf(Locale.ROOT, "  %-15s %-46s %,12d %24s %12s%n", where, name, i.count(), shape,
                    MemoryPlan.size(i.bytes()));
        }
        out.printf(Locale.ROOT, "  total %s: backend tensors %s, host staging %s, Java heap %s%n",
                MemoryPlan.size(e.totalBytes()), MemoryPlan.size(e.deviceBytes()),
                MemoryPlan.size(e.hostBytes()), MemoryPlan.size(e.heapBytes()));
        out.println("  (the JVM's own code, classes, threads and free heap come on top: see the README's Long sequences)");
        if (budget != null) {
            out.printf(Locale.ROOT, "  --memory %s: %s; %s%n", MemoryPlan.size(budget),
                    e.fits(budget) ? "fits" : "does not fit",
                    largest == 0 ? "not even T = 1 fits with these settings"
                            : String.format(Locale.ROOT, "the largest T that fits is %,d (%s)", largest,
                            schedule(atLargest)));
        }
    }

    private static String schedule(MemoryPlan e) {
        return e.checkpointEvery() == 0 ? String.format(Locale.ROOT, "full storage, output chunk %,d", e.outputChunk())
                : String.format(Locale.ROOT, "checkpoint every %,d steps, output chunk %,d", e.checkpointEvery(),
                e.outputChunk());
    }

    private static String json(String backend, String what, MemoryPlan e, Long budget, int largest) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("backend", backend);
        o.put("run", what);
        o.put("checkpoint_every", e.checkpointEvery());
        o.put("output_chunk", e.outputChunk());
        o.put("device_bytes", e.deviceBytes());
        o.put("host_bytes", e.hostBytes());
        o.put("heap_bytes", e.heapBytes());
        o.put("total_bytes", e.totalBytes());
        if (budget != null) {
            o.put("memory_bytes", budget);
            o.put("fits", e.fits(budget));
            o.put("largest_seq_len", largest);
        }
        List<Map<String, Object>> items = new ArrayList<>();
        for (MemoryPlan.Item i : e.items()) {
            Map<String, Object> item = new LinkedHashMap<>();
            item.put("place", i.place().name().toLowerCase(Locale.ROOT));
            item.put("group", i.group());
            item.put("name", i.name());
            item.put("count", i.count());
            item.put("rows", i.rows());
            item.put("cols", i.cols());
            item.put("element_bytes", i.elementBytes());
            item.put("bytes", i.bytes());
            items.add(item);
        }
        o.put("items", items);
        return new Gson().toJson(o);
    }
}
