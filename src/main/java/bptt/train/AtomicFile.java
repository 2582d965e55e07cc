// AtomicFile: replace a file so that a crash at any moment leaves either the old or the new version.
package bptt.train;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes to a temporary sibling {@code .NAME.RANDOM.tmp}, forces it to disk, renames it over
 * the target with an atomic move and forces the directory. The target is reached through its
 * symbolic links, and one that exists must be a regular file (see {@link OutputFile}). The
 * temporary file is removed if anything fails; only a killed process can leave one behind (never
 * at the target's name), and the next successful save of the same target removes it.
 */
final class AtomicFile {
    /** The body that fills the temporary file. */
    @FunctionalInterface
    interface Body {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFile() {}

    static void write(Path target, Body body) throws IOException {
        Path absolute = OutputFile.resolve(target);  // a symbolic link is followed: its target is replaced, not the link
        try {
            OutputFile.requireRegularOrAbsent(target, absolute, "output file");
        } catch (IllegalArgumentException notAFile) {
            throw new FileSystemException(target.toString(), null, notAFile.getMessage());
        }
        Path dir = absolute.getParent();
        Path tmp = dir.resolve("." + absolute.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1) + ".tmp");
        boolean done = false;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.writeTo(channel);
                channel.force(true);
            }
            Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
        forceDirectory(dir);
        removeStaleTemporaries(absolute);
    }

    /**
     * Deletes temporaries a killed writer left beside the target. Saves of one target are
     * sequential, so once this save has landed any other temporary of it is stale.
     */
    private static void removeStaleTemporaries(Path target) {
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(target.getParent(), "." + target.getFileName() + ".*.tmp")) {
            for (Path stale : siblings) {
                if (isTemporaryFor(target, stale)) {
                    Files.deleteIfExists(stale);
                }
            }
        } catch (IOException | DirectoryIteratorException cannotClean) {
            // Leaving a stale temporary behind is harmless: it is never read.
        }
    }

    /** Makes the rename durable; some platforms cannot open a directory, and then there is nothing to do. */
    private static void forceDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException unsupported) {
            // Not every file system lets a directory be opened or synced; the rename itself is atomic.
        }
    }

    /** True for the temporary siblings this class creates for {@code target}. */
    static boolean isTemporaryFor(Path target, Path candidate) {
        String name = candidate.getFileName().toString();
        return name.startsWith("." + target.getFileName() + ".") && name.endsWith(".tmp");
    }
}
