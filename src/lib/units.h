/* Sizes and durations as people write them: "64M", "1.5G", "512k",
 * "5s", "250ms", "2m", "1h". Pure functions, unit tested. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sizes: a non-negative number (decimal point allowed) with an optional
 * binary suffix K, M, G, T (also k, KB, KiB, ...; 1K = 1024) or none for
 * bytes. Returns 0 or -EINVAL (malformed) / -ERANGE (overflows 2^63). */
int parse_size(const char *text, uint64_t *bytes);

/* Durations: a number with a unit ms, s, m, h (a bare number means
 * seconds). Result in milliseconds; 0 is allowed. -EINVAL / -ERANGE. */
int parse_duration(const char *text, uint64_t *ms);

/* CPU shares as a decimal count of CPUs: "0.5", "2", "1.25". Result in
 * thousandths of a CPU; must be > 0 and at most 1024 CPUs. */
int parse_cpus(const char *text, uint32_t *millicpus);

/* The shortest exact form: 67108864 -> "64M", 1536 -> "1536" … */
void format_size(uint64_t bytes, char *buf, size_t len);
/* 5000 -> "5s", 1500 -> "1500ms", 120000 -> "2m", 3600000 -> "1h". */
void format_duration(uint64_t ms, char *buf, size_t len);
/* 500 -> "0.5", 2000 -> "2", 1250 -> "1.25". */
void format_cpus(uint32_t millicpus, char *buf, size_t len);
