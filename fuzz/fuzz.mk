# The libFuzzer build: clang with -fsanitize=fuzzer,address,undefined,
# apart from the gcc build (its objects are never mixed in). `make fuzz`
# in a configured build directory runs this with
#   make -f $(top_srcdir)/fuzz/fuzz.mk top_srcdir=… top_builddir=…
# top_builddir gives config.h and the generated policy-builtin.c; the
# binaries go to $(top_builddir)/fuzz/.
top_srcdir ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
top_builddir ?= .
FUZZ_CC ?= clang
out := $(top_builddir)/fuzz

TARGETS := $(patsubst $(top_srcdir)/fuzz/fuzz-%.c,%,$(wildcard $(top_srcdir)/fuzz/fuzz-*.c))
BINS := $(addprefix $(out)/fuzz-,$(TARGETS))

PKGS := libseccomp libcap libnl-3.0 libnl-route-3.0 jansson libnftables
# -fno-sanitize-recover: a UBSan report must stop the run so libFuzzer keeps
# the input; -O1 -g as libFuzzer's documentation suggests.
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CFLAGS_FUZZ := -std=gnu11 -g -O1 $(SAN) -Wall -Wno-unused-parameter \
	-iquote $(top_srcdir)/src/lib -iquote $(top_srcdir)/fuzz -I$(top_builddir) \
	-DWARREN_POLICYDIR='"/nonexistent"' -DWARREN_IMAGEDIR='"/nonexistent"' -DWARREN_PKGLIBEXECDIR='"/nonexistent"' \
	$(shell pkg-config --cflags $(PKGS))
LIBS_FUZZ := $(shell pkg-config --libs $(PKGS))

LIB_SRCS := $(wildcard $(top_srcdir)/src/lib/*.c) $(top_builddir)/policy-builtin.c
LIB_OBJS := $(patsubst %.c,$(out)/obj/%.o,$(notdir $(LIB_SRCS)))

all: $(BINS)

# Every library object is built; the linker takes from the archive only
# what a target reaches.
$(out)/obj/%.o: $(top_srcdir)/src/lib/%.c $(wildcard $(top_srcdir)/src/lib/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer-no-link -c $< -o $@
$(out)/obj/policy-builtin.o: $(top_builddir)/policy-builtin.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -c $< -o $@
$(out)/libwarren-fuzz.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(out)/fuzz-%: $(top_srcdir)/fuzz/fuzz-%.c $(top_srcdir)/fuzz/fuzz.h $(out)/libwarren-fuzz.a
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer $< $(out)/libwarren-fuzz.a $(LIBS_FUZZ) -o $@

clean:
	rm -rf $(out)/obj $(out)/libwarren-fuzz.a $(BINS)

.PHONY: all clean
