# The layers of libtessera, enforced at build time (cmake -P, run by the `tessera_layers`
# target before any library source compiles).
#
# Arrows point down only (DESIGN.md, "Layers"): a module may include its own headers, the
# public headers of the modules listed for it below, and their shared private headers
# (e.g. store/sqlite_file.h for registry); nothing sideways or up. A public header
# include/tessera/<m>.h obeys the same table as src/<m>/. A new module under src/ must be
# added here, with what it stands on, before it builds.
#
#   cmake -DSRC=<repo> -DSTAMP=<file> -P cmake/layers.cmake

set(TES_LAYER_core      "")
set(TES_LAYER_cbor      "core")
set(TES_LAYER_crypto    "core")
set(TES_LAYER_jose      "core;crypto")   # JWS ES256, JWK, JWT claims (jose.h)
set(TES_LAYER_cose      "core;cbor;crypto")
set(TES_LAYER_trust     "core;cbor;crypto")
set(TES_LAYER_se        "core;cbor;crypto;jose;trust") # trust: the attestation chain validator
set(TES_LAYER_store     "core")
set(TES_LAYER_transport "core")
set(TES_LAYER_httpd     "core")
set(TES_LAYER_mdoc      "core;cbor;crypto;cose;trust")
set(TES_LAYER_status    "core;cbor;crypto;cose;trust;mdoc")
set(TES_LAYER_session   "core;cbor;crypto;cose;trust;mdoc")
set(TES_LAYER_oid4vp    "core;cbor;crypto;jose;cose;trust;mdoc;session") # OpenID4VP: DCQL, transcript, JAR
set(TES_LAYER_registry  "core;crypto;cose;trust;status;store")
set(TES_LAYER_proximity "core;cbor;crypto;cose;trust;mdoc;se;store;session;transport;status")
# the holder's wallet: its directory, store and SE, enrolment over OpenID4VCI (its client),
# presenting through proximity (the 18013-5 device-retrieval protocol layer; it never
# includes wallet); nothing of the issuer (the two actors share only what lies below both)
# door and car keys (issue 14): the Aliro transaction (both sides), access and revocation documents
set(TES_LAYER_access    "core;cbor;crypto;cose;se;transport")
# the door lock: its crash-safe store and its decisions, on the access engine
set(TES_LAYER_lock      "core;cbor;crypto;cose;access;store;transport")
set(TES_LAYER_wallet    "core;cbor;crypto;jose;cose;trust;mdoc;se;store;session;transport;status;proximity;oid4vp;access")
set(TES_LAYER_issuer    "core;cbor;crypto;jose;cose;trust;se;mdoc;status;registry;httpd")
# the relying party's verifier service (OpenID4VP, issue 13): its own small database layer on store
set(TES_LAYER_rp        "core;cbor;crypto;jose;cose;trust;mdoc;session;status;oid4vp;store;httpd")

if(NOT SRC)
  message(FATAL_ERROR "layers.cmake: -DSRC=<repository root> is required")
endif()

set(problems "")
file(GLOB module_dirs LIST_DIRECTORIES true "${SRC}/src/*")
foreach(dir IN LISTS module_dirs)
  if(NOT IS_DIRECTORY "${dir}")
    continue()
  endif()
  get_filename_component(m "${dir}" NAME)
  if(NOT DEFINED TES_LAYER_${m})
    string(APPEND problems "  src/${m}/ is not in the layer table of cmake/layers.cmake: say what it stands on\n")
    continue()
  endif()
  set(allowed ${TES_LAYER_${m}} ${m})
  file(GLOB files "${dir}/*.c" "${dir}/*.h")
  if(EXISTS "${SRC}/include/tessera/${m}.h")
    list(APPEND files "${SRC}/include/tessera/${m}.h")
  endif()
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
    file(RELATIVE_PATH rel "${SRC}" "${f}")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*$" "\\1" inc "${line}")
      if(inc MATCHES "^tessera/([a-z0-9_]+)\\.h$")
        set(target "${CMAKE_MATCH_1}")
      elseif(inc MATCHES "^([a-z0-9_]+)/[a-z0-9_]+\\.h$")
        set(target "${CMAKE_MATCH_1}")
      elseif(inc MATCHES "^[a-z0-9_]+\\.h$")
        set(target "${m}") # a header beside the file: its own module
      else()
        string(APPEND problems "  ${rel}: #include \"${inc}\" names no module\n")
        continue()
      endif()
      list(FIND allowed "${target}" found)
      if(found EQUAL -1)
        list(JOIN TES_LAYER_${m} " " below)
        string(APPEND problems "  ${rel}: #include \"${inc}\": ${m} may use only its own headers and ${below}\n")
      endif()
    endforeach()
  endforeach()
endforeach()

if(problems)
  message(FATAL_ERROR "layers: an include reaches sideways or up (table in cmake/layers.cmake):\n${problems}")
endif()
if(STAMP)
  file(WRITE "${STAMP}" "layers ok\n")
endif()
