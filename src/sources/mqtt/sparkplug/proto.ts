/**
 * The Sparkplug B payload as a protobufjs JSON descriptor: the `Payload` and `Payload.Metric`
 * messages of Eclipse Tahu's sparkplug_b.proto (github.com/eclipse/tahu, sparkplug_b/sparkplug_b.proto,
 * Eclipse Public License 2.0), with their field names (camel case, as protobufjs names them), numbers
 * and types unchanged. Only the fields the agent reads are listed: protobuf decoding skips the
 * others (metadata, properties, DataSet, Template, extension values) by their wire type, so a
 * payload carrying them still decodes. A descriptor instead of the .proto file: no parser at run
 * time, and esbuild bundles it like any module.
 */
export const SPARKPLUG_B_DESCRIPTOR = {
  "nested": {
    "org": {
      "nested": {
        "eclipse": {
          "nested": {
            "tahu": {
              "nested": {
                "protobuf": {
                  "nested": {
                    "Payload": {
                      "fields": {
                        "timestamp": {
                          "type": "uint64",
                          "id": 1
                        },
                        "metrics": {
                          "rule": "repeated",
                          "type": "Metric",
                          "id": 2
                        },
                        "seq": {
                          "type": "uint64",
                          "id": 3
                        },
                        "uuid": {
                          "type": "string",
                          "id": 4
                        },
                        "body": {
                          "type": "bytes",
                          "id": 5
                        }
                      },
                      "nested": {
                        "Metric": {
                          "oneofs": {
                            "value": {
                              "oneof": [
                                "intValue",
                                "longValue",
                                "floatValue",
                                "doubleValue",
                                "booleanValue",
                                "stringValue",
                                "bytesValue"
                              ]
                            }
                          },
                          "fields": {
                            "name": {
                              "type": "string",
                              "id": 1
                            },
                            "alias": {
                              "type": "uint64",
                              "id": 2
                            },
                            "timestamp": {
                              "type": "uint64",
                              "id": 3
                            },
                            "datatype": {
                              "type": "uint32",
                              "id": 4
                            },
                            "isHistorical": {
                              "type": "bool",
                              "id": 5
                            },
                            "isTransient": {
                              "type": "bool",
                              "id": 6
                            },
                            "isNull": {
                              "type": "bool",
                              "id": 7
                            },
                            "intValue": {
                              "type": "uint32",
                              "id": 10
                            },
                            "longValue": {
                              "type": "uint64",
                              "id": 11
                            },
                            "floatValue": {
                              "type": "float",
                              "id": 12
                            },
                            "doubleValue": {
                              "type": "double",
                              "id": 13
                            },
                            "booleanValue": {
                              "type": "bool",
                              "id": 14
                            },
                            "stringValue": {
                              "type": "string",
                              "id": 15
                            },
                            "bytesValue": {
                              "type": "bytes",
                              "id": 16
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
} as const;
