import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, rename, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';

// The few file operations the outbox needs, each durable where it says so (STYLE §9). Files are
// opened per write, not held open: in fleet mode thousands of outboxes share one process.

/** Appends `content`; with `sync`, returns only once it is on disk (fdatasync). */
export async function appendToFile(file: string, content: string, sync: boolean): Promise<number> {
  const handle = await open(file, 'a', 0o600);
  try {
    // appendFile loops until every byte is written; write() alone may stop short.
    await handle.appendFile(content);
    if (sync) await handle.datasync();
    return Buffer.byteLength(content);
  } finally {
    await handle.close();
  }
}

/** Cuts a torn tail left by a failed append. */
export function truncateFile(file: string, bytes: number): Promise<void> {
  return truncate(file, bytes);
}

/** Writes a whole new version beside the file, syncs it and renames it over (atomic). */
export async function replaceFile(file: string, content: string): Promise<number> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  let bytes: number;
  try {
    await handle.writeFile(content);
    bytes = Buffer.byteLength(content);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await syncDirectory(file);
  return bytes;
}

export function replaceFileSync(file: string, content: string): number {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  let bytes: number;
  try {
    const buffer = Buffer.from(content);
    for (let at = 0; at < buffer.length; ) at += writeSync(fd, buffer, at);
    bytes = buffer.length;
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return bytes;
}

/** A rename is durable only once its directory is synced (POSIX rename(2), fsync(2)). */
async function syncDirectory(file: string): Promise<void> {
  const handle = await open(dirname(file), 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
