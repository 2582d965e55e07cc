// MetricsLog: training metrics as JSON lines (one object per step or evaluation) for --log FILE.
package bptt.train;

import com.google.gson.Gson;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Appends one JSON object per line; a null path makes every call a no-op. A write that fails
 * (a full disk) prints one warning and turns the log off: losing the metrics must not lose the run.
 */
public final class MetricsLog implements AutoCloseable {
    private static final Gson GSON = new Gson();
    private final Path path;
    private BufferedWriter writer;

    public MetricsLog(Path path, boolean append) {
        this.path = path;
        try {
            this.writer = path == null ? null : Files.newBufferedWriter(path, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write the --log file " + path + ": " + e.getMessage());
        }
    }

    public void write(Map<String, ?> record) {
        if (writer == null) {
            return;
        }
        try {
            writer.write(GSON.toJson(record));
            writer.newLine();
            writer.flush();
        } catch (IOException e) {
            System.err.println("warning: writing the --log file " + path + " failed (" + OutputFile.reason(e)
                    + "); training goes on without it");
            closeQuietly();
        }
    }

    private void closeQuietly() {
        try {
            writer.close();
        } catch (IOException alreadyReported) {
            // the failed write was reported; nothing more to say about this file
        }
        writer = null;
    }

    @Override
    public void close() {
        if (writer != null) {
            try {
                writer.close();
            } catch (IOException e) {
                System.err.println("warning: closing the --log file " + path + " failed (" + OutputFile.reason(e) + ")");
            }
        }
    }
}
