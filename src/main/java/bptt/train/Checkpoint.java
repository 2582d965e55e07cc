// Checkpoint: a model's config, vocabulary and parameter slab, plus named tensors and strings for resuming.
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.ParameterLayout;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.train.SafetensorsFile.TensorData;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What {@link CheckpointIo} saves and loads. {@code params} is the host copy of the parameter
 * slab in {@link ParameterLayout} order; {@code vocab} holds the code point of each token id
 * (null for a model without one); {@code extras} are the resume tensors (optimizer state,
 * hidden state, ...) and {@code metadata} the resume strings (step, data position, RNG state,
 * ...). {@code source} is the file it was loaded from, null for one built in memory; it only
 * makes error messages name the file.
 */
public record Checkpoint(RnnConfig config, int[] vocab, float[] params, Map<String, TensorData> extras,
                         Map<String, String> metadata, Path source) {
    public Checkpoint {
        long total = new ParameterLayout(config).total();
        if (params.length != total) {
            throw new IllegalArgumentException("parameter slab has " + params.length + " floats but the model needs " + total);
        }
        if (vocab != null && vocab.length != config.outputSize()) {
            throw new IllegalArgumentException("vocabulary has " + vocab.length + " entries but the model has "
                    + config.outputSize() + " output classes");
        }
        extras = Collections.unmodifiableMap(new LinkedHashMap<>(extras));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** A checkpoint built in memory, to be saved. */
    public Checkpoint(RnnConfig config, int[] vocab, float[] params, Map<String, TensorData> extras,
                      Map<String, String> metadata) {
        this(config, vocab, params, extras, metadata, null);
    }

    /** A model on {@code backend} holding this checkpoint's weights; the caller closes it. */
    public Rnn model(Backend backend) {
        Rnn rnn = new Rnn(backend, config);
        backend.upload(params, rnn.params());
        return rnn;
    }

    /** The values of extra tensor {@code name}, which must exist with exactly {@code shape}. */
    public float[] extra(String name, int... shape) {
        TensorData t = extras.get(name);
        if (t == null) {
            throw new CheckpointException(where() + " has no tensor \"" + name + "\" (it holds "
                    + (extras.isEmpty() ? "no resume tensors" : "only " + extras.keySet()) + "); "
                    + "it cannot be resumed from: use --init-from to start from its weights only");
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(where() + ": tensor \"" + name + "\" has shape " + Arrays.toString(t.shape())
                    + " but " + Arrays.toString(shape) + " is needed; resume with the settings it was saved with"
                    + " or use --init-from to start from its weights only");
        }
        return t.values();
    }

    /** The metadata string {@code key}, which must exist. */
    public String meta(String key) {
        String value = metadata.get(key);
        if (value == null) {
            throw new CheckpointException(where() + " has no metadata \"" + key + "\"; "
                    + "it cannot be resumed from: use --init-from to start from its weights only");
        }
        return value;
    }

    /** Fails unless this checkpoint's vocabulary is {@code expected}, naming the first difference. */
    public void requireVocab(int[] expected) {
        if (vocab == null) {
            throw new CheckpointException(where() + " has no vocabulary (metadata \"vocab\"); it cannot encode text");
        }
        if (Arrays.equals(vocab, expected)) {
            return;
        }
        int i = Arrays.mismatch(vocab, expected);
        String detail = i >= vocab.length || i >= expected.length
                ? "the checkpoint has " + vocab.length + " characters, the data " + expected.length
                : "token " + i + " is " + show(vocab[i]) + " in the checkpoint but " + show(expected[i]) + " in the data";
        throw new CheckpointException(where() + " was trained on a different vocabulary than this data's ("
                + detail + "); use the data it was trained on, or train a new model");
    }

    private static String show(int codePoint) {
        return Character.isISOControl(codePoint) || Character.isWhitespace(codePoint)
                ? String.format("U+%04X", codePoint)
                : "'" + Character.toString(codePoint) + "' (U+" + String.format("%04X", codePoint) + ")";
    }

    String where() {
        return source == null ? "checkpoint" : "checkpoint " + source;
    }
}
