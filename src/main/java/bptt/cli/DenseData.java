// DenseData: the CLI's real-valued data (a CSV or .npy file, or the generated Mackey-Glass series) as an API Sequences, with its targets.
package bptt.cli;

import bptt.api.Sequences;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What --data FILE.csv|FILE.npy (or --task series), --target-columns, --horizon and --classes
 * say, turned into {@link Sequences} with targets. The same settings are recorded in a
 * checkpoint, so eval and predict read new files of the same layout the way training did.
 *
 * @param file          the CSV or .npy file, or null for the generated series
 * @param targetColumns the columns to predict (names or 0-based indices, comma-separated), or null for the last
 * @param horizon       steps ahead the values are predicted (0: from the other columns of the same step)
 * @param classes       0 for real values; else the target column holds class ids in [0, classes)
 */
record DenseData(Path file, String targetColumns, int horizon, int classes) {
    /** The task name a checkpoint of a run on a numeric file records. */
    static final String DENSE = "dense";

    /** Whether a checkpoint's task is one of these runs. */
    static boolean isDenseTask(String task) {
        return "series".equals(task) || DENSE.equals(task);
    }

    /** Steps of the generated Mackey-Glass series. */
    static final int SERIES_STEPS = 4000;

    /** Whether --data names a numeric file rather than text. */
    static boolean isNumericFile(Path data) {
        String name = data == null ? "" : data.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".csv") || name.endsWith(".npy");
    }

    /** The data with its targets; {@code seed} picks the generated series' stretch. */
    Sequences load(long seed) {
        if (horizon < 0) {
            throw new UserError("--horizon must be 0 or more, got " + horizon);
        }
        if (classes < 0) {
            throw new UserError("--classes must be positive (or 0 for real values), got " + classes);
        }
        if (file == null) {
            if (targetColumns != null || classes > 0) {
                throw new UserError("--target-columns and --classes are for --data files; the series task predicts its"
                        + " next value");
            }
            return Sequences.mackeyGlass(SERIES_STEPS, seed);
        }
        Sequences raw = Sequences.read(file);
        int[] columns = columns(raw.columns());
        if (classes > 0) {
            if (columns.length != 1) {
                throw new UserError("--classes takes one target column (the class ids), got " + columns.length);
            }
            return raw.labelColumn(columns[0], classes);
        }
        return raw.forecast(horizon, columns);
    }

    /** The target columns' indices: each a header name or a 0-based index; the last column by default. */
    private int[] columns(List<String> names) {
        if (targetColumns == null) {
            return new int[]{names.size() - 1};
        }
        List<Integer> picked = new ArrayList<>();
        for (String part : targetColumns.split(",")) {
            String c = part.trim();
            int i = names.indexOf(c);
            if (i < 0) {
                try {
                    i = Integer.parseInt(c);
                } catch (NumberFormatException e) {
                    i = -1;
                }
            }
            if (i < 0 || i >= names.size()) {
                throw new UserError("--target-columns: " + file + " has no column '" + c + "'; its columns are "
                        + String.join(", ", names) + " (or 0 to " + (names.size() - 1) + ")");
            }
            picked.add(i);
        }
        return picked.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The settings a checkpoint records, for {@link #fromSettings}. */
    void record(Map<String, String> settings) {
        settings.put("task", file == null ? "series" : DENSE);
        settings.put("data", file == null ? "series" : file.toAbsolutePath().toString());
        if (targetColumns != null) {
            settings.put("target_columns", targetColumns);
        }
        settings.put("horizon", Integer.toString(horizon));
        settings.put("classes", Integer.toString(classes));
    }

    /**
     * The layout a checkpoint's run used, read from {@code file} instead (or from the run's own
     * file or series when {@code file} is null); options given on the command line win.
     */
    static DenseData fromSettings(Map<String, String> saved, Path file, String targetColumns, Integer horizon,
                                  Integer classes) {
        String savedData = saved.get("data");
        Path f = file != null ? file : savedData == null || "series".equals(savedData) ? null : Path.of(savedData);
        return new DenseData(f, targetColumns != null ? targetColumns : saved.get("target_columns"),
                horizon != null ? horizon : Integer.parseInt(saved.getOrDefault("horizon", "1")),
                classes != null ? classes : Integer.parseInt(saved.getOrDefault("classes", "0")));
    }
}
