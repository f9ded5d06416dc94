/*
 * The PKCS#11 backend's CKR_* names and the Tessera error each maps to
 * (the backend's design notes: pkcs11.c).
 */
#include "se/p11_internal.h"

/* ------------------------------------------------------------------ CKR names */

static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
#define N(x)                                                                                       \
    {                                                                                              \
        x, #x                                                                                      \
    }
    N(CKR_OK),
    N(CKR_CANCEL),
    N(CKR_HOST_MEMORY),
    N(CKR_SLOT_ID_INVALID),
    N(CKR_GENERAL_ERROR),
    N(CKR_FUNCTION_FAILED),
    N(CKR_ARGUMENTS_BAD),
    N(CKR_NO_EVENT),
    N(CKR_NEED_TO_CREATE_THREADS),
    N(CKR_CANT_LOCK),
    N(CKR_ATTRIBUTE_READ_ONLY),
    N(CKR_ATTRIBUTE_SENSITIVE),
    N(CKR_ATTRIBUTE_TYPE_INVALID),
    N(CKR_ATTRIBUTE_VALUE_INVALID),
    N(CKR_ACTION_PROHIBITED),
    N(CKR_DATA_INVALID),
    N(CKR_DATA_LEN_RANGE),
    N(CKR_DEVICE_ERROR),
    N(CKR_DEVICE_MEMORY),
    N(CKR_DEVICE_REMOVED),
    N(CKR_FUNCTION_CANCELED),
    N(CKR_FUNCTION_NOT_PARALLEL),
    N(CKR_FUNCTION_NOT_SUPPORTED),
    N(CKR_KEY_HANDLE_INVALID),
    N(CKR_KEY_SIZE_RANGE),
    N(CKR_KEY_TYPE_INCONSISTENT),
    N(CKR_KEY_FUNCTION_NOT_PERMITTED),
    N(CKR_KEY_UNEXTRACTABLE),
    N(CKR_MECHANISM_INVALID),
    N(CKR_MECHANISM_PARAM_INVALID),
    N(CKR_OBJECT_HANDLE_INVALID),
    N(CKR_OPERATION_ACTIVE),
    N(CKR_OPERATION_NOT_INITIALIZED),
    N(CKR_PIN_INCORRECT),
    N(CKR_PIN_INVALID),
    N(CKR_PIN_LEN_RANGE),
    N(CKR_PIN_EXPIRED),
    N(CKR_PIN_LOCKED),
    N(CKR_SESSION_CLOSED),
    N(CKR_SESSION_COUNT),
    N(CKR_SESSION_HANDLE_INVALID),
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    N(CKR_SESSION_READ_ONLY),
    N(CKR_SESSION_EXISTS),
    N(CKR_SESSION_READ_ONLY_EXISTS),
    N(CKR_SESSION_READ_WRITE_SO_EXISTS),
    N(CKR_SIGNATURE_INVALID),
    N(CKR_SIGNATURE_LEN_RANGE),
    N(CKR_TEMPLATE_INCOMPLETE),
    N(CKR_TEMPLATE_INCONSISTENT),
    N(CKR_TOKEN_NOT_PRESENT),
    N(CKR_TOKEN_NOT_RECOGNIZED),
    N(CKR_TOKEN_WRITE_PROTECTED),
    N(CKR_USER_ALREADY_LOGGED_IN),
    N(CKR_USER_NOT_LOGGED_IN),
    N(CKR_USER_PIN_NOT_INITIALIZED),
    N(CKR_USER_TYPE_INVALID),
    N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    N(CKR_USER_TOO_MANY_TYPES),
    N(CKR_RANDOM_NO_RNG),
    N(CKR_DOMAIN_PARAMS_INVALID),
    N(CKR_CURVE_NOT_SUPPORTED),
    N(CKR_BUFFER_TOO_SMALL),
    N(CKR_CRYPTOKI_NOT_INITIALIZED),
    N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    N(CKR_LIBRARY_LOAD_FAILED),
    N(CKR_PIN_TOO_WEAK),
    N(CKR_PUBLIC_KEY_INVALID),
    N(CKR_FUNCTION_REJECTED),
#undef N
};

const char *p11_ckr_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof ckr_names / sizeof ckr_names[0]; i++)
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED+" : "CKR_(unknown)";
}

/* Maps a failed call to a Tessera error with the CKR name in the message. */
tes_err p11_fail(CK_RV rv, const char *what)
{
    tes_err code;
    switch (rv) {
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
        code = TES_ERR_NOMEM;
        break;
    case CKR_PIN_INCORRECT:
        code = TES_ERR_PIN_WRONG;
        break;
    case CKR_PIN_LOCKED:
        code = TES_ERR_PIN_LOCKED;
        break;
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_TOO_WEAK:
        code = TES_ERR_PIN_FORMAT;
        break;
    case CKR_USER_NOT_LOGGED_IN:
        code = TES_ERR_PIN_REQUIRED;
        break;
    case CKR_USER_PIN_NOT_INITIALIZED:
        code = TES_ERR_PIN_NOT_SET;
        break;
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_REMOVED:
    case CKR_SLOT_ID_INVALID:
        code = TES_ERR_SE_NO_TOKEN;
        break;
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
        code = TES_ERR_KEY_UNKNOWN;
        break;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
        code = TES_ERR_UNSUPPORTED;
        break;
    case CKR_ARGUMENTS_BAD:
        code = TES_ERR_ARG;
        break;
    default:
        code = TES_ERR_SE_BACKEND;
        break;
    }
    return tes_err_set(code, "PKCS#11 %s failed: %s (0x%lx)", what, p11_ckr_name(rv),
                       (unsigned long)rv);
}
