// ember: the app layer's non-template code, for ember/impl/src.hpp (EMBER_SEPARATE_COMPILATION).
#pragma once
