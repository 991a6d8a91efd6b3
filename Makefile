# Wharf: the two commands of the README, and the steps behind them.
#
#   make run    install what is missing (as root, with apt-get), build, and run the gateway in development mode
#   make test   install what is missing, build, and run the test suite (make test-unit and
#               make test-integration run its first layers only)

SWIFT ?= swift
CONFIGURATION ?= debug
# Debug builds keep line tables only as debug information (enough for backtraces): smaller objects
# and binaries to link. They build no index store (minutes of a fresh build) except the test
# target's, which SwiftPM's test discovery on Linux reads (Package.swift, WHARF_TEST_INDEX_STORE).
DEBUG_INFO_FLAGS := -Xswiftc -gline-tables-only -Xcc -gline-tables-only --disable-index-store
BUILD_FLAGS ?= -c $(CONFIGURATION) $(if $(filter debug,$(CONFIGURATION)),$(DEBUG_INFO_FLAGS))
WHARF := .build/$(CONFIGURATION)/wharf
# Evaluated once, when a recipe first uses it.
BIN_PATH = $(eval BIN_PATH := $$(shell $(SWIFT) build --show-bin-path $(BUILD_FLAGS)))$(BIN_PATH)
TEST_BUILD := WHARF_TEST_INDEX_STORE=$(BIN_PATH)/index/store $(SWIFT) build --build-tests $(BUILD_FLAGS)

# Debian packages the gateway and its tests need.
RUN_PACKAGES := libsqlite3-dev sqlite3 ffmpeg
TEST_PACKAGES := libsqlite3-dev sqlite3 protobuf-compiler ffmpeg postgresql chromium chromium-driver

.PHONY: run test test-unit test-integration build setup setup-test format lint clean proto

run: setup build
	$(WHARF) serve --dev --devnet 3

# At most four tests at once: many suites start a real gateway (a process with its own devnet), and
# on two cores more at once starve the tests that time gRPC calls.
test: setup-test
	$(TEST_BUILD)
	$(SWIFT) test --skip-build --experimental-maximum-parallelization-width 4 $(BUILD_FLAGS)

# One layer of the suite at a time (Tests/WharfTests/Support/TestLayers.swift): the in-process unit
# tests take seconds; integration adds servers on loopback; `make test` adds the end-to-end tests.
test-unit test-integration: setup-test
	$(TEST_BUILD)
	WHARF_TESTS=$(@:test-%=%) $(SWIFT) test --skip-build --experimental-maximum-parallelization-width 4 $(BUILD_FLAGS)

# The gateway, and the example plugins installed into the development plugin folder.
PLUGINS := WharfTemplatePlugin WharfVideoCaptionsPlugin WharfThumbnailStudioPlugin
PLUGIN_FOLDER := .wharf/plugins

build:
	$(SWIFT) build $(BUILD_FLAGS) --product wharf
	@mkdir -p $(PLUGIN_FOLDER)
	@for plugin in $(PLUGINS); do \
		$(SWIFT) build $(BUILD_FLAGS) --product $$plugin && \
		cp .build/$(CONFIGURATION)/lib$$plugin.so $(PLUGIN_FOLDER)/ || exit 1; \
	done

setup:
	@scripts/install-packages.sh $(RUN_PACKAGES)

setup-test:
	@scripts/install-packages.sh $(TEST_PACKAGES)
	@scripts/livepeer-reference.sh

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Benchmarks Package.swift

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Package.swift
	@scripts/check-miscompile-patterns.sh

clean:
	rm -rf .build

# Regenerate the committed protobuf/gRPC code in Sources/WharfLivepeer/Generated from Protos/.
PROTOC_PLUGINS := .build/release
proto:
	@scripts/install-packages.sh protobuf-compiler
	$(SWIFT) build -c release --product protoc-gen-swift
	$(SWIFT) build -c release --product protoc-gen-grpc-swift-2
	protoc --proto_path=Protos \
		--plugin=protoc-gen-swift=$(PROTOC_PLUGINS)/protoc-gen-swift \
		--plugin=protoc-gen-grpc-swift-2=$(PROTOC_PLUGINS)/protoc-gen-grpc-swift-2 \
		--swift_out=Sources/WharfLivepeer/Generated \
		--swift_opt=Visibility=Package,UseAccessLevelOnImports=true \
		--grpc-swift-2_out=Sources/WharfLivepeer/Generated \
		--grpc-swift-2_opt=Visibility=Package,UseAccessLevelOnImports=true,Server=true,Client=true \
		Protos/livepeer_net.proto
