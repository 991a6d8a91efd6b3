/*
 * wharf_plugin.h — the Wharf plugin ABI, version 1.
 *
 * This header is the contract between the Wharf gateway (the host) and a plugin (a shared library
 * a partner builds and ships). A plugin contributes presets (named graphs of steps) and code steps
 * (functions the host calls while running a preset). Only C types and bytes cross the boundary:
 * structured data is UTF-8 JSON. Errors are status codes plus a message, never a language-level
 * exception or a crash crossing the boundary.
 *
 * Versioning. The entry symbol carries the ABI version in its name (wharf_plugin_entry_v1). Within a
 * version, structures only grow at the end: every structure starts with abi_version and
 * struct_size, and a reader uses only the fields that fit in struct_size. A breaking change makes a
 * new entry symbol (wharf_plugin_entry_v2); a host may support several.
 *
 * Lifetime. The host loads a plugin once (dlopen with RTLD_NOW | RTLD_LOCAL) and never unloads it,
 * so anything the plugin returns as "static" stays valid for the life of the process.
 *
 * Threads. The host may call run_step from several threads at once, for different jobs; a plugin
 * keeps no unsynchronised shared state.
 *
 * Ownership. Every pointer below says who owns it:
 *   - borrowed: valid only during the call that received it; copy what you keep.
 *   - static: owned by the plugin, valid for the life of the process.
 *   - wharf_buffer: allocated by one side and released by the SAME side's free_buffer function,
 *     never by the receiver's own free().
 */
#ifndef WHARF_PLUGIN_H
#define WHARF_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. */
#define WHARF_PLUGIN_ABI_VERSION 1u

/** The name of the symbol a version-1 plugin exports (and the only one it needs to export). */
#define WHARF_PLUGIN_ENTRY_SYMBOL_V1 "wharf_plugin_entry_v1"

/** Outcome of a call across the boundary. */
typedef enum wharf_status {
    WHARF_STATUS_OK = 0,
    /** The input is not what the callee accepts (bad JSON, missing field, unknown step). */
    WHARF_STATUS_INVALID_ARGUMENT = 1,
    /** A named thing (an artifact, a step) does not exist. */
    WHARF_STATUS_NOT_FOUND = 2,
    /** The work failed; the message says why. */
    WHARF_STATUS_FAILED = 3,
    /** The callee does not support what was asked (a newer feature). */
    WHARF_STATUS_UNSUPPORTED = 4
} wharf_status;

/** Bytes lent for the duration of a call (borrowed). */
typedef struct wharf_bytes {
    const uint8_t *data;
    size_t length;
} wharf_bytes;

/** Bytes handed over: released by the free_buffer function of the side that allocated them. */
typedef struct wharf_buffer {
    uint8_t *data;
    size_t length;
} wharf_buffer;

/** Log severities the host understands. */
typedef enum wharf_log_level {
    WHARF_LOG_DEBUG = 0,
    WHARF_LOG_INFO = 1,
    WHARF_LOG_WARNING = 2,
    WHARF_LOG_ERROR = 3
} wharf_log_level;

/**
 * What the host offers a code step while it runs. The host passes a pointer to one of these to
 * run_step (borrowed: valid only during that call). `context` is opaque to the plugin; pass it back
 * unchanged as the first argument of every function.
 */
typedef struct wharf_host_api_v1 {
    uint32_t abi_version; /* WHARF_PLUGIN_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(wharf_host_api_v1) as the host was compiled */
    void *context;

    /** Writes a line to the gateway's log, tagged with the job and step. `message` is borrowed. */
    void (*log)(void *context, wharf_log_level level, const char *message);

    /**
     * Reads an artifact of the running job (an input file, or the output of an earlier step) by name.
     * On WHARF_STATUS_OK, *out holds a buffer the HOST allocated: release it with free_buffer below.
     * Returns WHARF_STATUS_NOT_FOUND for an unknown name.
     */
    wharf_status (*read_artifact)(void *context, const char *name, wharf_buffer *out);

    /**
     * Stores an artifact of the running job under `name` (letters, digits, '.', '-', '_'), with a
     * media type. The host copies `data` before returning; `name`, `content_type` and `data` are
     * borrowed. Returns WHARF_STATUS_INVALID_ARGUMENT for a bad name or a name already used.
     */
    wharf_status (*write_artifact)(void *context, const char *name, const char *content_type, wharf_bytes data);

    /** Releases a buffer the host allocated (from read_artifact). */
    void (*free_buffer)(void *context, wharf_buffer buffer);
} wharf_host_api_v1;

/**
 * What a plugin offers, returned by its entry function. The structure and everything it points to
 * are static.
 */
typedef struct wharf_plugin_v1 {
    uint32_t abi_version; /* WHARF_PLUGIN_ABI_VERSION the plugin was built against */
    uint32_t struct_size; /* sizeof(wharf_plugin_v1) as the plugin was compiled */

    /**
     * The plugin's manifest, UTF-8 JSON, static. Its shape (docs/PLUGINS.md):
     * {"name": "captions", "version": "1.2.0", "description": "...",
     *  "presets": [{"name", "description", "parameters": <JSON Schema>, "steps": [...]}],
     *  "code_steps": [{"name", "description"}]}
     */
    const char *manifest_json;

    /**
     * Runs the code step `step` (static name from the manifest, borrowed here) on `input` (UTF-8
     * JSON, borrowed). `host` is borrowed for the duration of the call.
     * On WHARF_STATUS_OK, *output holds UTF-8 JSON the PLUGIN allocated. On any other status,
     * *error_message may hold a UTF-8 message the PLUGIN allocated. Either is released by the host
     * with this plugin's free_buffer. Must not longjmp, throw or abort across this boundary.
     */
    wharf_status (*run_step)(
        const char *step,
        wharf_bytes input,
        const wharf_host_api_v1 *host,
        wharf_buffer *output,
        wharf_buffer *error_message);

    /** Releases a buffer the plugin allocated (from run_step). */
    void (*free_buffer)(wharf_buffer buffer);
} wharf_plugin_v1;

/**
 * The entry point. The host calls it once after loading the library and checks abi_version and
 * struct_size before using anything else. Returns NULL when the plugin cannot run here; the host
 * then reports that the plugin refused to start and loads the others.
 */
typedef const wharf_plugin_v1 *(*wharf_plugin_entry_v1_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WHARF_PLUGIN_H */
